"""Daemon logs: one line per event on stdout, as JSON or text, with the watch and repo as fields.

Log collectors (Docker, Loki, CloudWatch) split on newlines, so a traceback must not become thirty
"events"; and every line passes through `redact` last, after all fields are filled in, so no token
can reach the log whatever a library put in its message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys

from watcher.redact import redact

FORMATS = ("text", "json")
FIELDS = ("watch", "source", "repo", "job", "run_id")
_KEY_VALUE = re.compile(r"\b(watch|source|repo)=([^\s,;]+)")
_REPO = re.compile(r"\b(?:huggingface|github) (?:author |org )?([\w.-]+/[\w.-]+|[\w.-]+)(?=:)")
NOISY = ("huggingface_hub", "httpx", "httpx2", "httpcore", "urllib3", "github", "slack_sdk", "apscheduler", "alembic")
TRANSPORT = ("huggingface_hub", "httpx", "httpx2", "httpcore", "urllib3", "github")


def fields(record: logging.LogRecord, message: str) -> dict[str, object]:
    """Explicit `extra=` fields first, else `watch=x` in the message, else a repo named in a source error."""
    found: dict[str, object] = {}
    for key in FIELDS:
        value = getattr(record, key, None)
        if value is not None:
            found[key] = value
    for key, value in _KEY_VALUE.findall(message):
        found.setdefault(key, value)
    if "repo" not in found:
        match = _REPO.search(message)
        if match:
            found["repo"] = match.group(1)
    return found


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "msg", "watch", "repo", ..., "exc"}: one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        doc: dict[str, object] = {"ts": _timestamp(record), "level": record.levelname.lower(),
                                  "logger": record.name, "msg": message}
        doc.update(fields(record, message))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        # redacted value by value: redacting the dumped line could eat a closing quote and break the JSON
        doc = {k: redact(v) if isinstance(v, str) else v for k, v in doc.items()}
        return redact(json.dumps(doc, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """`2026-11-29T02:10:00.000Z INFO watcher.daemon.scheduler: message watch=x repo=y`, newlines folded."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        extra = " ".join(f"{k}={v}" for k, v in fields(record, message).items() if f"{k}=" not in message)
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {message}"
        if extra:
            line += f" {extra}"
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info)
        return redact(line.replace("\r", "").replace("\n", " | "))


class DemoteTransport(logging.Filter):
    """HTTP libraries' warnings ("Retrying (CappedRetry(total=1, ...)) after connection broken by ...") are
    details: they become DEBUG lines, shown only at debug level. Our own line per retry and per failing
    source says the same in plain words."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".")[0] in TRANSPORT and record.levelno < logging.ERROR:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self.level <= logging.DEBUG
        return True


def setup(log_format: str = "text", level: str = "INFO", stream=None) -> None:
    """Route every logger (ours and the libraries') to one handler on stdout."""
    from watcher.redact import RedactingFilter

    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(DemoteTransport(numeric))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)
