"""`watcher db ...`: schema migrations by hand (the daemon, `poll` and `notify retry` also upgrade on start)."""

from __future__ import annotations

from typing import Annotated

import typer

from watcher.cli.options import ConfigOption, LogLevelOption, VerboseOption

db_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Database schema: show the revision, upgrade, add a migration.")


def _engine(ctx: typer.Context):
    from watcher.cli.common import fail, load_config
    from watcher.store.db import StoreError, open_engine

    cfg = load_config(ctx)
    try:
        return cfg, open_engine(cfg.database, create=False)
    except StoreError as exc:
        fail(str(exc))


@db_app.command()
def upgrade(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Upgrade the schema to the newest revision (creating it if empty); safe while replicas run."""
    from watcher.cli.common import fail, load_config
    from watcher.store import migrate
    from watcher.store.db import StoreError, first_line, open_engine, safe_url
    from watcher.store.schema import make_current

    cfg = load_config(ctx)
    try:
        if _exists(cfg.database):
            before, after = migrate.upgrade(open_engine(cfg.database, create=False))
        else:  # a new SQLite file: open_engine creates it privately, then it is upgraded
            before, after = None, migrate.current(make_current(open_engine(cfg.database, create=True)))
    except StoreError as exc:
        fail(str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - one line for the user, not a traceback
        fail(f"database {safe_url(cfg.database)}: {first_line(exc)}", 1)
    if before == after:
        typer.echo(f"database {safe_url(cfg.database)}: already at revision {after} (head)")
    else:
        typer.echo(f"database {safe_url(cfg.database)}: upgraded from {before or 'empty'} to {after} (head)")


def _exists(url: str) -> bool:
    """SQLite files are created with their private mode by open_engine(create=True); anything else exists."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.get_backend_name() != "sqlite" or not parsed.database or Path(parsed.database).exists()


@db_app.command()
def current(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Print the database's schema revision and whether it is the newest this release knows."""
    from watcher.cli.common import fail
    from watcher.store import migrate
    from watcher.store.db import first_line, safe_url

    cfg, engine = _engine(ctx)
    try:
        revision = migrate.current(engine)
        pre_alembic = revision is None and migrate.PRE_ALEMBIC_TABLES <= migrate.table_names(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error is one line for the user, as above
        fail(f"database {safe_url(cfg.database)}: {first_line(exc)}", 1)
    head = migrate.head()
    if revision == head:
        state = "(head): up to date"
    elif pre_alembic:
        revision, state = "none", "(created before migrations): `watcher db upgrade` will adopt it"
    elif revision is None:
        revision, state = "none", "(empty): `watcher db upgrade` will create the schema"
    else:
        state = f"(head is {head}): run `watcher db upgrade`"
    typer.echo(f"{safe_url(cfg.database)}: revision {revision} {state}")


@db_app.command("revision", hidden=True)
def revision(message: Annotated[str, typer.Argument(help="What the migration does.")]) -> None:
    """For developers: autogenerate the next migration from the ORM tables (watcher/store/tables.py)."""
    from watcher.store import migrate

    path = migrate.new_revision(message)
    typer.echo(f"wrote {path}: review it (SQLite-generated; add PostgreSQL-only changes by hand)")
