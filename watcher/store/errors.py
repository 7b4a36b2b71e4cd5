"""The store's one error type and the two helpers every message uses: a leaf, so that the engine,
the reader and the migrations can all raise it without importing one another. SQLAlchemy loads only
when a URL is masked, so the CLI's sqlite3 paths can use these too."""

from __future__ import annotations

from watcher.redact import redact


class StoreError(Exception):
    """The database cannot be opened or written; phrased for the user, without credentials."""


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return redact(make_url(url).render_as_string(hide_password=True))  # also ?password=... in the query
    except (ArgumentError, ValueError):
        return "<invalid database URL>"


def first_line(exc: BaseException) -> str:
    """The driver's own message, first line only: what a user needs, without SQL or traceback."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
