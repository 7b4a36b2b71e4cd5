"""Commands that only read (status, events, cadence, status --check) create nothing and write nothing,
and each problem is blamed on what caused it."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys

import pytest

READERS = [["status"], ["status", "--json"], ["status", "--check"], ["events"], ["events", "--json"], ["cadence"]]


def _snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_no_database_creates_nothing_and_says_how_to_make_one(watcher, tmp_path, args):
    result = watcher(*args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    if args[0] == "cadence":  # the history comes from the config: still shown
        assert result.exit_code == 0 and "Window for qwen3.7" in result.stdout
        return
    if args[0] == "status" and args[1:] != ["--check"]:  # the config's forecast, every watch unknown
        assert result.exit_code == 0 and "there is no database at" in result.stdout and "unknown" in result.stdout
        return
    assert result.exit_code == 1
    if args == ["status", "--check"]:
        assert result.stdout.startswith("unhealthy: no poll has run yet")
        return
    assert "there is no database at" in result.stderr and "`watcher poll`" in result.stderr


def test_readers_leave_the_database_file_untouched(watcher, hub, tmp_path):
    assert watcher("poll").exit_code == 0
    folder = tmp_path / "copy"
    folder.mkdir()
    db = folder / "watcher.db"
    with sqlite3.connect(tmp_path / "watcher.db") as source, sqlite3.connect(db) as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # a rollback-journal file: a writer would switch it to WAL
    watcher.config["database"] = f"sqlite:///{db}"
    before = _snapshot(folder)
    for args in READERS:
        result = watcher(*args)
        assert result.exit_code in (0, 1), (args, result.output)  # --check: 1 is "stale", a verdict
        assert "database" not in result.stderr, (args, result.stderr)
    assert _snapshot(folder) == before  # same files, same bytes
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_status_reads_without_importing_alembic(watcher, tmp_path):
    assert watcher("poll").exit_code == 0
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "watcher", "--config", str(watcher.path),
                             "status"], cwd=tmp_path, env={**os.environ, "WATCHER_NOW": "2026-07-12"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] == "alembic"}


def test_a_schema_behind_says_to_upgrade_and_is_not_upgraded(watcher, tmp_path):
    assert watcher("db", "upgrade").exit_code == 0
    db = tmp_path / "watcher.db"
    with sqlite3.connect(db) as conn:
        conn.execute("update alembic_version set version_num = '0003'")
    result = watcher("status")
    assert result.exit_code == 2 and "schema at revision 0003" in result.stderr
    assert "run `watcher db upgrade`" in result.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("select version_num from alembic_version").fetchone() == ("0003",)


def test_a_file_that_is_not_a_database_is_an_error_for_every_reader(watcher, tmp_path):
    (tmp_path / "watcher.db").write_bytes(b"this is not sqlite" * 100)
    for args in (["status"], ["events"], ["cadence"]):
        result = watcher(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "database sqlite:///" in result.stderr and "not a database" in result.stderr
        assert "no poll" not in result.output.lower()


def test_unknown_watch_is_named_the_same_way_by_events_and_cadence(watcher, hub):
    assert watcher("poll").exit_code == 0
    for args in (["events", "--watch", "nosuch"], ["cadence", "nosuch"]):
        result = watcher(*args)
        assert result.exit_code == 2 and "unknown watch 'nosuch' (watches: qwen3.7)" in result.stderr


def test_a_bad_clock_is_blamed_on_the_clock(watcher, hub):
    assert watcher("poll").exit_code == 0
    result = watcher("status", env={"WATCHER_NOW": "garbage"})
    assert result.exit_code == 2
    assert result.stderr.strip() == "watcher: WATCHER_NOW: 'garbage' is not an ISO date or datetime"


def test_a_bad_database_url_from_the_environment_is_blamed_on_the_environment(watcher):
    result = watcher("status", env={"WATCHER_DATABASE_URL": "nonsense"})
    assert result.exit_code == 2 and result.stderr.startswith("watcher: WATCHER_DATABASE_URL (environment")


def test_poll_under_a_missing_directory_says_so_and_creates_nothing(watcher, tmp_path):
    watcher.config["database"] = f"sqlite:///{tmp_path / 'nosuch' / 'watcher.db'}"
    result = watcher("poll")
    assert result.exit_code == 2
    assert f"the directory {tmp_path / 'nosuch'} does not exist" in result.stderr
    assert not (tmp_path / "nosuch").exists()


@pytest.fixture
def read_only_mount(tmp_path):
    """A read-only file system (tmpfs remounted ro): needs root; skipped where mounting is not allowed."""
    point = tmp_path / "ro"
    point.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(point)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a file system here (needs root)")

    def seal():
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True, capture_output=True)

    try:
        yield point, seal
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_readers_work_on_a_read_only_file_system(watcher, hub, tmp_path, read_only_mount):
    point, seal = read_only_mount
    hub.add_model("Qwen/Qwen3.7-27B", {"model.safetensors": 1000})
    assert watcher("poll").exit_code == 0
    with sqlite3.connect(tmp_path / "watcher.db") as source, sqlite3.connect(point / "watcher.db") as copy:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=WAL")  # as the daemon leaves it: a WAL file, -wal/-shm gone at close
    copy.close()
    assert sorted(p.name for p in point.iterdir()) == ["watcher.db"]
    seal()
    watcher.config["database"] = f"sqlite:///{point / 'watcher.db'}"
    status = watcher("status", "--json")
    assert status.exit_code == 0, status.output
    assert "Qwen/Qwen3.7-27B" in status.stdout
    events = watcher("events", "--json")
    assert events.exit_code == 0 and "watch_started" in events.stdout
