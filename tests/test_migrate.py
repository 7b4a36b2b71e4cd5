"""Migrations: they build exactly the ORM schema, adopt a pre-migration database with its history, and lock."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading

import legacy_tables as legacy
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from watcher.store import migrate, reader
from watcher.store.db import StoreError
from watcher.store.schema import open_current
from watcher.store.tables import Base

T0 = dt.datetime(2026, 7, 1, 12, tzinfo=dt.timezone.utc)


def schema_diff(engine, metadata) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_migrations_build_exactly_the_orm_tables(any_database):
    """A table or column added to tables.py without a migration fails here (on both back ends)."""
    engine = open_current(any_database)
    assert migrate.current(engine) == migrate.head()
    assert schema_diff(engine, Base.metadata) == []
    if engine.dialect.name == "postgresql":
        columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("repos")}
        assert type(columns["snapshot"]).__name__ == "JSONB"


def test_first_revision_is_the_pre_migration_schema(any_database):
    engine = create_engine(any_database)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
    assert schema_diff(engine, legacy.Base.metadata) == []


def _legacy_history(engine) -> None:
    """What a release before migrations left behind: a poll, its events, a delivered and a pending alert."""
    legacy.Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        run = legacy.PollRun(started_at=T0, finished_at=T0, errors=["hf: 503"], requests={"huggingface": 3})
        session.add(run)
        session.flush()
        session.add(legacy.WatchRow(name="qwen3.7", baselined_scopes=["hf:author:qwen"], created_at=T0,
                                    last_poll_at=T0))
        session.add(legacy.RepoRow(watch="qwen3.7", source="huggingface", repo_id="Qwen/Qwen3.7-27B",
                                   visible=True, has_weights=True, updated_at=T0, first_seen=T0,
                                   snapshot={"source": "huggingface", "repo_id": "Qwen/Qwen3.7-27B"}))
        for i, kind in enumerate(["watch_started", "weights_published"], start=1):
            session.add(legacy.EventRow(watch="qwen3.7", kind=kind, dedup_key=f"k{i}", data={"n": i},
                                        created_at=T0, poll_run_id=run.id, repo_id="Qwen/Qwen3.7-27B"))
        session.add(legacy.Delivery(watch="qwen3.7", destination="console", event_ids=[1], status="delivered",
                                    created_at=T0, delivered_at=T0))
        session.add(legacy.Delivery(watch="qwen3.7", destination="console", event_ids=[2], status="pending",
                                    created_at=T0))


def test_pre_migration_database_upgrades_in_place_with_history(any_database):
    engine = create_engine(any_database)
    _legacy_history(engine)
    assert migrate.current(engine) is None
    upgraded = open_current(any_database)
    assert migrate.current(upgraded) == migrate.head()
    assert schema_diff(upgraded, Base.metadata) == []
    with upgraded.connect() as conn:
        events = conn.execute(text("select kind, data from events order by id")).fetchall()
        deliveries = conn.execute(text("select status, event_ids from deliveries order by id")).fetchall()
        run = conn.execute(text("select errors, requests from poll_runs")).one()
    load = lambda v: json.loads(v) if isinstance(v, str) else v  # noqa: E731 - text on SQLite, JSONB decoded
    assert [(k, load(d)) for k, d in events] == [("watch_started", {"n": 1}), ("weights_published", {"n": 2})]
    assert [(s, load(e)) for s, e in deliveries] == [("delivered", [1]), ("pending", [2])]
    assert (load(run[0]), load(run[1])) == (["hf: 503"], {"huggingface": 3})
    # the pipeline's own queries read the upgraded rows
    from watcher.store import queries
    from watcher.store.db import transaction

    with transaction(upgraded) as session:
        assert [d.event_ids for d in queries.pending_deliveries(session)] == [[2]]
        assert queries.has_event(session, "qwen3.7", "k2")
        assert queries.baselined_scopes(session, "qwen3.7") == {"hf:author:qwen"}


def test_pre_migration_database_with_daemon_tables_upgrades(any_database):
    """Releases before migrations also shipped source_health and daemon_runs: they are kept, not re-created."""
    engine = create_engine(any_database)
    _legacy_history(engine)
    Base.metadata.tables["source_health"].create(engine)
    Base.metadata.tables["daemon_runs"].create(engine)
    with engine.begin() as conn:
        conn.execute(text("insert into source_health (watch, source, consecutive_failures, alerted, streaks) "
                          "values ('qwen3.7', 'github', 4, true, 1)"))
    upgraded = open_current(any_database)
    assert migrate.current(upgraded) == migrate.head()
    assert schema_diff(upgraded, Base.metadata) == []
    with upgraded.connect() as conn:
        assert conn.execute(text("select consecutive_failures from source_health")).scalar() == 4


def test_replicas_upgrading_at_once_do_not_race(any_database):
    if any_database.startswith("sqlite"):
        create_engine(any_database).dispose()
    errors, engines = [], []

    def start() -> None:
        try:
            engines.append(open_current(any_database))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {migrate.current(e) for e in engines} == {migrate.head()}


def test_schema_newer_than_this_release_is_a_clear_error(any_database):
    engine = open_current(any_database)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '0999'"))
    with pytest.raises(StoreError, match=r"revision 0999.*upgrade watcher"):
        open_current(any_database)


def test_db_cli_current_and_upgrade(watcher, tmp_path):
    engine = create_engine(watcher.config["database"])
    _legacy_history(engine)
    result = watcher("db", "current")
    assert result.exit_code == 0 and "revision none (created before migrations)" in result.stdout
    result = watcher("db", "upgrade")
    assert result.exit_code == 0 and f"upgraded from 0001 to {migrate.head()} (head)" in result.stdout
    assert "up to date" in watcher("db", "current").stdout
    assert "already at revision" in watcher("db", "upgrade").stdout
    events = json.loads(watcher("events", "--json").stdout)
    assert [e["kind"] for e in events] == ["weights_published", "watch_started"]


def test_the_plain_revision_reader_agrees_with_alembic():
    """`watcher poll` skips Alembic when the stored revision is reader.head(): a wrong head would skip an upgrade."""
    assert reader.head() == migrate.head()



def test_poll_at_head_does_not_import_alembic(watcher, hub, tmp_path):
    open_current(watcher.config["database"]).dispose()  # created at head
    watcher.save()
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "watcher", "--config", str(watcher.path),
                             "poll"], cwd=tmp_path, env={**os.environ, "WATCHER_NOW": "2026-07-12"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cycle 1:" in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "sqlalchemy" in imported and "alembic" not in imported


def test_a_schema_behind_is_upgraded_on_open(any_database):
    """The cheap head check must not skip a needed upgrade."""
    engine = create_engine(any_database)
    with engine.begin() as conn:
        from alembic import command

        command.upgrade(migrate.alembic_config(conn), "0003")
    assert migrate.current(open_current(any_database)) == migrate.head()
