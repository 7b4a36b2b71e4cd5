"""Schema migrations with Alembic, run under a lock so replicas starting together do not race.

A database created before migrations existed (tables present, no `alembic_version`) is stamped
with revision 0001, which is exactly that schema, and then upgraded in place: no data is touched.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect

from watcher.store.errors import StoreError
from watcher.store.locks import store_lock

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "migrations"
BASELINE = "0001"  # the schema of the releases before migrations
PRE_ALEMBIC_TABLES = {"watches", "repos", "poll_runs", "events", "deliveries"}


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revisions() -> set[str]:
    """Every revision this release ships."""
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: empty, or created before migrations)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `target`; returns (revision before, revision after). Safe to run concurrently."""
    if target == "head":
        now = current(engine)
        if now == head():  # the common case: no lock, no migration environment
            return now, now
    with store_lock(engine):
        with engine.begin() as conn:
            before = MigrationContext.configure(conn).get_current_revision()
            if before is None and PRE_ALEMBIC_TABLES <= set(inspect(conn).get_table_names()):
                command.stamp(alembic_config(conn), BASELINE)
                before = BASELINE
            try:
                command.upgrade(alembic_config(conn), target)
            except CommandError as exc:  # e.g. a schema newer than this release knows
                raise StoreError(f"database schema at revision {before}: {exc} "
                                 f"(this watcher knows revisions up to {head()}; upgrade watcher)") from None
            after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def new_revision(message: str) -> Path:
    """Autogenerate the next revision from the difference between the migrations and the ORM tables."""
    script = ScriptDirectory.from_config(alembic_config())
    number = f"{len(list(script.walk_revisions())) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/head.db")
        upgrade(engine)
        with engine.begin() as conn:
            rev = command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=number)
        engine.dispose()
    return Path(rev.path)


def table_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())
