"""Secrets never leave the process: everything that reaches logs, status, the database or Slack passes here."""

from __future__ import annotations

import logging
import os
import re

SECRET_ENV_VARS = ("HF_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "SLACK_BOT_TOKEN", "SLACK_WEBHOOK_URL", "WATCHER_WEBHOOK_SECRET")
_extra_secret_vars: set[str] = set()  # routes' `webhook_env` names, registered when the config names them
_SECRET_QUERY = re.compile(r"(?i)((?:access_)?token|key|secret|password|sig)=[^&\s\"'<>]+")
_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@")
_BEARER = re.compile(r"(?i)(bearer\s+|token\s+)[A-Za-z0-9._~+/=-]{8,}")
_KNOWN_TOKEN = re.compile(r"\b(hf_[A-Za-z0-9]{6,}|gh[pousr]_[A-Za-z0-9_]{6,}|github_pat_[A-Za-z0-9_]{6,}|xox[abposr]-[A-Za-z0-9-]{6,})")
_WEBHOOK_PATH = re.compile(r"(/(?:services|triggers|workflows)/)[A-Za-z0-9/_-]+")


def redact(text: str) -> str:
    """Remove token-shaped text and the exact values of our secret environment variables."""
    for name in (*SECRET_ENV_VARS, *sorted(_extra_secret_vars)):
        value = os.environ.get(name)
        if value and len(value) >= 6:
            text = text.replace(value, f"<{name}>")
    text = _USERINFO.sub(r"\1***@", text)
    text = _SECRET_QUERY.sub(r"\1=***", text)
    text = _BEARER.sub(r"\1***", text)
    text = _WEBHOOK_PATH.sub(r"\1***", text)
    return _KNOWN_TOKEN.sub("***", text)


def register_secret_env(name: str) -> None:
    """An environment variable that holds a secret (a route's webhook URL): its value is redacted too."""
    _extra_secret_vars.add(name)


class RedactingFilter(logging.Filter):
    """Applied to every log handler: third-party libraries log URLs and headers at debug level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
