"""The schema is brought to this release's newest by the callers that write (`poll`, `run`, `notify
retry`, `db upgrade`), explicitly, after opening: opening an engine never migrates, so the read-only
commands cannot create or write anything by accident.

The common case (already at head) is one SELECT and no Alembic import: Alembic costs a third of a
quiet `watcher poll`'s start-up.
"""

from __future__ import annotations

from sqlalchemy import Engine

from watcher.store.db import StoreError, open_engine, store_errors
from watcher.store.errors import safe_url
from watcher.store.reader import at_head


def make_current(engine: Engine) -> Engine:
    """Create or upgrade the schema unless it is at head; replicas starting together serialise on a lock.
    Raises StoreError (one line, as opening does)."""
    with store_errors(str(engine.url)):
        if not at_head(engine):
            from watcher.store import migrate  # Alembic loads only where the schema needs creating or upgrading

            migrate.upgrade(engine)
    return engine


def open_current(url: str, create: bool = True, locked: bool = False) -> Engine:
    """open_engine, then make_current: what a writer (and a test that wants a ready database) opens.

    `locked`: the caller holds the cycle lock and saw the schema at head (a poll's head start). A migration
    would wait for that lock forever, so a schema found otherwise now is an error, not an upgrade."""
    engine = open_engine(url, create=create)
    if locked:
        with store_errors(url):
            if not at_head(engine):
                raise StoreError(f"database {safe_url(url)}: its schema changed while this poll held the cycle lock; "
                                 "run it again")
        return engine
    return make_current(engine)
