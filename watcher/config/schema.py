"""The config file's JSON Schema, for editors (yaml-language-server) and CI checks of a config repo.

Generated from the pydantic models, so it cannot drift from what `watcher check-config` accepts. Two
things pydantic would get wrong for our YAML are rewritten: durations are the `15m` / `1h30m` / `7d`
strings (or plain seconds) that `parse_duration` reads, not ISO 8601, and so are their defaults.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from watcher.config import Config

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# What config.parse_duration accepts: one or more <number><unit> parts, units s m h d w, any case.
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*[smhdwSMHDW]\s*)+$"
PERCENT_PATTERN = r"^\s*\d+(\.\d+)?\s*%\s*$"
_DURATION_HELP = "a duration such as 30s, 15m, 1h30m, 7d (or a number of seconds); at most a year"


def duration_text(value: dt.timedelta) -> str:
    """A timedelta the way the config writes it: 90 s -> '1m30s', 1 day -> '1d'."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _duration_schema() -> dict[str, Any]:
    return {"anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number", "minimum": 0}],
            "description": _DURATION_HELP}


def _iso_to_text(value: Any) -> Any:
    from pydantic import TypeAdapter, ValidationError

    if isinstance(value, str) and value.startswith("P"):
        try:
            return duration_text(TypeAdapter(dt.timedelta).validate_python(value))
        except ValidationError:
            return value
    if isinstance(value, dict):
        return {k: _iso_to_text(v) for k, v in value.items()}
    return value


def _rewrite(node: Any) -> Any:
    """Durations as our strings; defaults that pydantic rendered as ISO 8601 as our strings too."""
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "duration":
        extra = {k: v for k, v in node.items() if k in ("title", "default", "description")}
        node = {**_duration_schema(), **extra}
    out = {k: _rewrite(v) for k, v in node.items()}
    if "default" in out:
        out["default"] = _iso_to_text(out["default"])
    return out


def build() -> dict[str, Any]:
    schema = _rewrite(Config.model_json_schema(mode="validation"))
    schema["properties"].pop("source_path", None)  # set by the loader, never written in the file
    _lenient_fields(schema["$defs"])
    return {"$schema": SCHEMA_DIALECT, "title": "watcher configuration (config.yaml)",
            "description": "Secrets are never set here: they come from the environment "
                           "(HF_TOKEN, GITHUB_TOKEN or GH_TOKEN, SLACK_BOT_TOKEN, SLACK_WEBHOOK_URL).",
            **{k: v for k, v in schema.items() if k != "title"}}


def _lenient_fields(defs: dict[str, Any]) -> None:
    """Fields whose "before" validators accept more than their type says (patterns are ECMA-262: no (?i))."""
    jitter = defs["Schedule"]["properties"]["jitter"]
    jitter["anyOf"] = [{"type": "string", "pattern": PERCENT_PATTERN}, *_duration_schema()["anyOf"]]
    jitter["description"] = "a share of the poll interval such as 10%, or " + _DURATION_HELP
    source = defs["Generation"]["properties"]["source"]
    url = {"type": "string", "pattern": r"^https?://[^/\s]+"}
    for key in ("type", "items"):
        source.pop(key, None)
    source.update(anyOf=[url, {"type": "array", "items": url}], description="a URL or a list of URLs")
    remind = defs["WatchNotify"]["properties"]["remind_every"]
    never = {"type": "string", "pattern": r"^\s*([Nn][Ee][Vv][Ee][Rr]|[Oo][Ff][Ff]|0)\s*$"}
    remind["anyOf"] = [*remind["anyOf"], {"const": False}, never]
    remind["description"] = _DURATION_HELP + "; never (or off, false, 0) for no reminders"
