"""What every command module shares: the one-line failure, the clock, the config and the database it opens.

Its own module so that the app (`app.py`) and the sub-apps (`db.py`, `webhooks.py`) both import it
and neither imports the other.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import NoReturn

import typer

from watcher import config as config_mod
from watcher.cli.options import chosen_level
from watcher.plaintext import visible
from watcher.redact import redact

EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    """One line on stderr, no traceback: what a user needs to fix it."""
    typer.echo(f"watcher: {visible(redact(message))}", err=True)
    raise typer.Exit(code)


def now() -> dt.datetime:
    """The clock. WATCHER_NOW (ISO date or datetime) pins it, for what-if checks and tests."""
    pinned = os.environ.get("WATCHER_NOW")
    if not pinned:
        return dt.datetime.now(dt.timezone.utc)
    try:
        value = dt.datetime.fromisoformat(pinned.replace("Z", "+00:00"))
    except ValueError:
        fail(f"WATCHER_NOW: {pinned!r} is not an ISO date or datetime")
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def load_config(ctx: typer.Context, log_default: str | None = "WARNING"):
    """The config named before or after the command; also sets up logging (None: the command does)."""
    if log_default:
        setup_logging(ctx, log_default)
    from watcher.forecast import windows

    try:
        cfg = windows.checked(config_mod.load(ctx.ensure_object(dict).get("config")))
    except config_mod.ConfigError as exc:
        fail(str(exc))
    from watcher.notify import credential_problems

    if problems := credential_problems(cfg):  # a secret is validated like config, never echoed
        fail("; ".join(problems))
    return cfg


def open_reader(config):
    """For commands that only read: create nothing, write nothing (see store/reader.py); exit 1 if there is
    no database yet, 2 if it cannot be read."""
    from watcher.store.db import StoreError
    from watcher.store.reader import NoDatabase
    from watcher.store.reader import open_reader as reader

    try:
        return reader(config.database)
    except NoDatabase as exc:
        fail(str(exc), code=1)
    except StoreError as exc:
        fail(str(exc))


def open_store(config, locked: bool = False):
    """For commands that write (poll, run, notify retry): open, creating the SQLite file, and bring the schema
    to this release's newest (one SELECT when it is already there). `locked`: see schema.open_current."""
    from watcher.store.db import StoreError
    from watcher.store.schema import open_current

    try:
        return open_current(config.database, locked=locked)
    except StoreError as exc:
        fail(str(exc))


def setup_logging(ctx: typer.Context, default: str = "WARNING", stream=None) -> None:
    """Commands other than `run` log problems to stderr, one line each, through the daemon's formatter."""
    from watcher import logs

    logs.setup("text", chosen_level(ctx, default), stream or sys.stderr)
