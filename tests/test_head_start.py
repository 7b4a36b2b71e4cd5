"""`watcher poll`'s head start (engine/head_start.py): the cycle lock first, sqlite3 reads the same rows
SQLAlchemy would, the requests go out without SQLAlchemy, and anything unusual polls as before."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from watcher import config as config_mod
from watcher.engine import head_start
from watcher.store import cache_queries, cycle_reads, queries
from watcher.store.db import transaction
from watcher.store.locks import LockBusy, cycle_lock_path, file_lock
from watcher.store.schema import open_current

TOKEN = "ghp_testtoken123456"
GB = 1_000_000_000


def clock() -> dt.datetime:
    return dt.datetime(2026, 7, 12, 12, tzinfo=dt.timezone.utc)


def db_path(watcher) -> str:
    return watcher.config["database"].removeprefix("sqlite:///")


def lock_is_free(path: str) -> bool:
    try:
        with file_lock(cycle_lock_path(path), wait=False):
            return True
    except LockBusy:
        return False


@pytest.fixture
def polled(watcher, hub, github):
    """A database a real poll filled: Hub repos with and without weights, GitHub validators and budgets."""
    hub.add_model("Qwen/Qwen3.7-7B", {"model.safetensors": 7 * GB})
    hub.add_model("Qwen/Qwen3.7-32B", {"README.md": 10})
    github.add_repo("QwenLM/Qwen3.7-Coder")
    github.events_poll_interval = 0
    watcher.poll(env={"GITHUB_TOKEN": TOKEN})
    return watcher


@pytest.fixture
def at_head(watcher):
    """The watcher's SQLite file at this release's schema, with nothing polled yet."""
    open_current(watcher.config["database"]).dispose()
    return watcher


def test_sqlite3_reads_what_sqlalchemy_reads(polled):
    """Validators, budgets and stored repos (a second spelling of one repo, a row without dates) are the same
    plain data through both readers, so a head start begins from exactly what an ordinary cycle would."""
    path = db_path(polled)
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT watch, source, repo_id, visible, has_weights, snapshot, first_seen, weights_seen, "
                           "last_seen, updated_at FROM repos WHERE repo_id = 'Qwen/Qwen3.7-7B'").fetchone()
        data = json.loads(row[5])
        data["repo_id"] = "qwen/qwen3.7-7b"  # the same repo as an older release spelled it
        conn.execute("INSERT INTO repos (watch, source, repo_id, visible, has_weights, snapshot, first_seen, "
                     "weights_seen, last_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                     (row[0], row[1], data["repo_id"], row[3], row[4], json.dumps(data), row[8], row[9]))
    names = [w["name"] for w in polled.config["watches"]]
    engine = open_current(polled.config["database"])
    with transaction(engine) as session:
        budgets = cache_queries.load_budgets(session)
        validators = {s: cache_queries.load_cache(session, s) for s in ("huggingface", "github")}
        stored = {name: queries.stored_repos(session, name) for name in names}
    conn = cycle_reads.open_lite(path)
    assert conn is not None
    try:
        assert cycle_reads.lite_budgets(conn) == budgets and "github" in budgets
        assert {s: cycle_reads.lite_validators(conn, s) for s in validators} == validators
        assert validators["github"]  # ETags were kept: the comparison covered some
    finally:
        conn.close()
    assert cycle_reads.lite_stored_repos(path, names) == stored
    folded = stored[names[0]]["huggingface:qwen/qwen3.7-7b"]
    assert folded.duplicates and folded.first_seen is not None


def test_the_cycle_lock_is_held_from_start_to_close(polled, hub):
    cfg = config_mod.load(str(polled.path))
    path = db_path(polled)
    head = head_start.start(cfg, clock)
    assert head is not None
    try:
        assert not lock_is_free(path)  # another poll, a migration or the daemon's cycle waits meanwhile
        reports, stored = head.finish()
        assert not lock_is_free(path)  # still held: the cycle stores under it
    finally:
        head.close()
    assert lock_is_free(path)
    listed = {snap.repo_id for report in reports["qwen3.7"] for snap in report.repos}
    assert {"Qwen/Qwen3.7-7B", "Qwen/Qwen3.7-32B"} <= listed
    assert "huggingface:qwen/qwen3.7-7b" in stored["qwen3.7"]


@pytest.mark.parametrize("case", ["missing", "url options", "behind", "not a database", "postgresql"])
def test_anything_else_polls_as_before_holding_nothing(at_head, case, tmp_path):
    path = db_path(at_head)
    at_head.save()
    cfg = config_mod.load(str(at_head.path))
    database = cfg.database
    if case == "missing":
        database = f"sqlite:///{tmp_path / 'none.db'}"
    elif case == "url options":
        database += "?timeout=5"
    elif case == "behind":
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0001'")
    elif case == "not a database":
        (tmp_path / "garbage.db").write_bytes(b"not an sqlite file" * 100)
        database = f"sqlite:///{tmp_path / 'garbage.db'}"
    elif case == "postgresql":
        database = "postgresql+psycopg://watcher@127.0.0.1:1/watcher"
    assert head_start.start(cfg.model_copy(update={"database": database}), clock) is None
    assert lock_is_free(path)


def test_a_schema_behind_is_upgraded_by_an_ordinary_poll(watcher, hub):
    """No head start on a file at an older revision: the ordinary path migrates it, then polls."""
    from alembic import command
    from sqlalchemy import create_engine

    from watcher.store import migrate

    engine = create_engine(watcher.config["database"])
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0003")
    engine.dispose()
    hub.add_model("Qwen/Qwen3.7-7B", {"model.safetensors": 7 * GB})
    watcher.poll()
    with sqlite3.connect(db_path(watcher)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrate.head(),)]
        assert ("Qwen/Qwen3.7-7B",) in conn.execute("SELECT repo_id FROM repos").fetchall()


@pytest.mark.parametrize("head", [True, False])
def test_a_store_error_the_head_start_meets_is_one_line(polled, head, tmp_path):
    """A table sqlite3 cannot read ends the poll as SQLAlchemy's errors do: one line, nothing stored."""
    if not head:
        polled.config["database"] += "?timeout=30"  # URL options: the ordinary path, for comparison
    with sqlite3.connect(db_path(polled).removesuffix("?timeout=30")) as conn:
        conn.execute("DROP TABLE repos")
        runs = conn.execute("SELECT count(*) FROM poll_runs").fetchone()[0]
    result = polled("poll")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cycle not stored: no such table: repos" in lines[0], result.output
    with sqlite3.connect(db_path(polled).removesuffix("?timeout=30")) as conn:
        assert conn.execute("SELECT count(*) FROM poll_runs").fetchone()[0] == runs


def test_requests_go_out_without_sqlalchemy(polled, hub):
    """The promise behind the head start, in a fresh interpreter: the whole fetch, no SQLAlchemy import."""
    hub.reset_requests()
    script = (
        "import json, sys, datetime as dt\n"
        "from watcher import config\n"
        "from watcher.engine import head_start\n"
        "head = head_start.start(config.load(sys.argv[1]), lambda: dt.datetime.now(dt.timezone.utc))\n"
        "reports, stored = head.finish()\n"
        "head.close()\n"
        "print(json.dumps({'sqlalchemy': sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'),\n"
        "                  'repos': sorted(s.repo_id for r in reports['qwen3.7'] for s in r.repos),\n"
        "                  'stored': sorted(stored['qwen3.7'])}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(polled.path)], capture_output=True, text=True,
                         env={**os.environ, "GITHUB_TOKEN": TOKEN}, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    assert seen["sqlalchemy"] == []
    assert {"Qwen/Qwen3.7-7B", "Qwen/Qwen3.7-32B"} <= set(seen["repos"])
    assert "huggingface:qwen/qwen3.7-7b" in seen["stored"]
    assert any(r.path == "/api/models" for r in hub.requests)


def test_a_stored_rate_limit_pause_holds_in_a_head_start(polled, hub):
    """The budget a head start reads through sqlite3 is the one the last cycle saved: a 429's pause holds."""
    hub.rate_limit_next(1, retry_after=600)
    assert "429" in polled.poll()
    hub.reset_requests()
    out = polled.poll()
    assert hub.requests == [] and "deferred" in out
    assert "repo_hidden" not in out


def test_github_validators_survive_from_cycle_to_cycle(polled, github):
    """The ETags a head start reads through sqlite3 are sent: the org's feed and listing are asked conditionally."""
    with sqlite3.connect(db_path(polled)) as conn:
        etags = dict(conn.execute("SELECT key, etag FROM http_cache WHERE source = 'github'"))
    github.reset_requests()
    polled.poll(env={"GITHUB_TOKEN": TOKEN})
    sent = {r.path: r.headers.get("If-None-Match") for r in github.requests}
    assert sent["/orgs/QwenLM/events"] == etags["events:qwen3.7:qwenlm"]
    assert sent["/orgs/QwenLM/repos"] == next(v for k, v in etags.items() if "/orgs/QwenLM/repos?" in k)


@pytest.mark.slow
def test_concurrent_cron_polls_on_sqlite_take_turns_and_alert_once(polled, hub, tmp_path):
    """Three `watcher poll` processes at once, twice, on one SQLite file: every cycle's fetch runs inside the
    lock (its run's times never overlap another's) and each event is stored once."""
    env = {k: v for k, v in os.environ.items() if k != "WATCHER_NOW"}
    cmd = [sys.executable, "-m", "watcher", "--config", str(polled.path), "poll"]

    def three_polls() -> None:
        procs = [subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(3)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outs

    with sqlite3.connect(db_path(polled)) as conn:
        before = conn.execute("SELECT max(id) FROM poll_runs").fetchone()[0]
    three_polls()
    hub.add_model("Qwen/Qwen3.7-14B", {"model.safetensors": 14 * GB})
    hub.set_files("Qwen/Qwen3.7-32B", {"model.safetensors": 32 * GB})
    three_polls()
    with sqlite3.connect(db_path(polled)) as conn:
        runs = conn.execute("SELECT started_at, finished_at FROM poll_runs WHERE id > ? ORDER BY started_at",
                            (before,)).fetchall()
        events = conn.execute("SELECT kind, repo_id FROM events").fetchall()
    assert len(runs) == 6 and all(finished for _, finished in runs)
    assert all(later[0] >= earlier[1] for earlier, later in zip(runs, runs[1:]))  # one cycle at a time
    assert len(events) == len(set(events))
    assert ("repo_appeared", "Qwen/Qwen3.7-14B") in events
    assert events.count(("weights_published", "Qwen/Qwen3.7-32B")) == 1
    assert not [e for e in events if e[0] == "repo_hidden"]
