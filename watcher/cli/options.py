"""Options every command takes, before or after the command name.

Users type `watcher poll --config x.yaml` as often as `watcher --config x.yaml poll`; both must
work. Each option's callback files its value in the shared context object, where the last one given
wins, so a command reads one place whatever the position was.
"""

from __future__ import annotations

import enum
from typing import Annotated, Optional

import typer

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Level(str, enum.Enum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormat(str, enum.Enum):
    text = "text"
    json = "json"


def _remember(key: str):
    def callback(ctx: typer.Context, value):
        if ctx.resilient_parsing:
            return value
        store = ctx.ensure_object(dict)
        if value not in (None, 0):
            store[key] = value.value if isinstance(value, enum.Enum) else value
        return value
    return callback


ConfigOption = Annotated[Optional[str], typer.Option(
    "--config", "-c", metavar="FILE", callback=_remember("config"),
    help="Config file (default: $WATCHER_CONFIG, ./config.yaml, or the embedded default).")]
LogLevelOption = Annotated[Optional[Level], typer.Option(
    "--log-level", case_sensitive=False, callback=_remember("log_level"),
    help="Log level on stderr (run: stdout). Default: info for run, error for poll and notify test, "
         "warning otherwise.")]
VerboseOption = Annotated[int, typer.Option(
    "--verbose", "-v", count=True, show_default=False, callback=_remember("verbose"),
    help="More log: -v info (retries, each source's errors), -vv debug (every request and its details).")]


def chosen_level(ctx: typer.Context, default: str) -> str:
    """--log-level wins; else each -v is one level more talkative than the command's default."""
    store = ctx.ensure_object(dict)
    if store.get("log_level"):
        return store["log_level"].upper()
    verbose = store.get("verbose") or 0
    if not verbose:
        return default
    index = LEVELS.index(default) if default in LEVELS else 2
    return LEVELS[max(0, min(index, 2) - verbose)]
