"""`watcher status` on a big watch: the table summarises (`--all` lists every repo); --check, --json and the table
read a plain SQLite file through sqlite3, and must say exactly what SQLAlchemy's path says."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import func, select, text

from watcher import config as config_mod
from watcher.cli import health
from watcher.engine import status as status_mod
from watcher.store.db import open_engine, transaction
from watcher.store.reader import open_reader
from watcher.store.tables import DaemonRun, Delivery, EventRow, ObservedRelease, PollRun, WebhookReceipt

UTC = dt.timezone.utc


def big_watch(watcher, hub, n: int = 60) -> None:
    for r in range(n):
        hub.add_model(f"Qwen/Qwen3.7-{r}B", {"model.safetensors": 1000} if r % 2 else {"README.md": 1})
    assert watcher("poll").exit_code == 0


def test_the_table_of_a_big_watch_shows_counts_and_the_repos_that_matter(watcher, hub):
    big_watch(watcher, hub)
    hub.add_model("Qwen/Qwen3.7-Fresh", {"model.safetensors": 1000})
    later = {"WATCHER_NOW": "2026-07-13T12:00:00Z"}
    assert watcher("poll", env=later).exit_code == 0
    out = watcher("status", env=later).stdout
    assert "63 repos: 61 visible (31 with weights), 2 hidden or gone" in " ".join(out.split())
    assert "Qwen3.7-Fresh" in out  # the newest sighting is among the rows shown
    assert "Qwen/Qwen3.7-Plus" in out  # the named repo, hidden: what the watch waits for
    assert sum(f"Qwen3.7-{r}B" in out for r in range(60)) < 15
    full = watcher("status", "--all", env=later).stdout
    assert all(f"Qwen3.7-{r}B" in full for r in range(60))
    assert "--all lists" not in full


def test_json_still_lists_every_repo(watcher, hub):
    big_watch(watcher, hub)
    assert len(watcher.watch_status()["repos"]) == 62  # 60 listed, the hidden named repo, the GitHub repo


def test_the_health_check_reads_sqlite_as_sqlalchemy_would(watcher, hub):
    big_watch(watcher, hub)
    watcher.save()
    config = config_mod.load(str(watcher.path))
    polled = dt.datetime(2026, 7, 12, 12, 5, tzinfo=dt.timezone.utc)  # conftest pins the poll at 12:00
    for now in (polled, polled + dt.timedelta(days=1)):
        assert health.check(config, now) == health._check_through_sqlalchemy(config, now)
    assert health.check(config, polled)[0] == health.HEALTHY
    assert health.check(config, polled + dt.timedelta(days=1))[0] == health.UNHEALTHY


def busy_history(engine, polled: dt.datetime) -> None:
    """A row in every table status reads, with the awkward values: NULLs, JSON, unclean stops, refusals."""
    with transaction(engine) as session:
        run_id = session.scalar(select(func.max(PollRun.id)))
        session.add(PollRun(started_at=polled - dt.timedelta(hours=2), finished_at=None, requests={"huggingface": 3},
                            errors=["database: disk I/O error", "huggingface: timeout"], events=0))
        session.add(EventRow(watch="qwen3.7", kind="variant_released", dedup_key="k1", source="huggingface",
                             repo_id="Qwen/Qwen3.7-1B", data={"released_on": "2026-07-10", "repo": "Qwen/Qwen3.7-1B"},
                             created_at=polled, poll_run_id=run_id))
        session.add(EventRow(watch="qwen3.7", kind="released", dedup_key="k2", source=None, repo_id=None,
                             data={"repo": "Qwen/Qwen3.7-3B", "released_on": "2026-07-11"}, created_at=polled))
        for status, error in (("pending", None), ("failed", "slack: channel_not_found <b>")):
            session.add(Delivery(watch="qwen3.7", destination="slack:#x", event_ids=[1], status=status, attempts=2,
                                 last_error=error, created_at=polled))
        session.add(ObservedRelease(cadence="qwen", watch="qwen3.6", flagship="Qwen3.6-Max", flagship_released="2026-01-10",
                                    variant="35B-A3B", repo="Qwen/Qwen3.6-35B-A3B", released="2026-03-01",
                                    hub_created_at=None, seen_at=polled))
        session.add(DaemonRun(started_at=polled - dt.timedelta(days=2), stopped_at=None, host="h", pid=41))
        session.add(DaemonRun(started_at=polled - dt.timedelta(hours=1), stopped_at=None, host="h", pid=42))
        session.add(WebhookReceipt(source="huggingface", last_accepted_at=polled, last_repo="Qwen/Qwen3.7-1B",
                                   last_rejected_at=None, last_rejection="bad_signature", updated_at=polled))


def test_status_reads_sqlite_as_sqlalchemy_would(watcher, hub):
    big_watch(watcher, hub)
    watcher.config["webhooks"] = {"path": "/hooks/huggingface"}
    watcher.config["watches"][0]["cadence"] = "qwen"
    cadences = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["cadences"]
    cadences["qwen"]["history"] = [g for g in cadences["qwen"]["history"] if g["generation"] != "Qwen3.6"]
    watcher.config["cadences"] = cadences  # Qwen3.6 comes from the observed_releases row
    watcher.save()
    config = config_mod.load(str(watcher.path))
    polled = dt.datetime(2026, 7, 12, 12, 5, tzinfo=UTC)
    engine = open_reader(config.database)
    busy_history(open_engine_rw(config.database), polled)
    for now in (polled, polled + dt.timedelta(days=1, hours=12), polled + dt.timedelta(days=9)):
        through_sqlite = status_mod.build_from_sqlite(config, now)
        assert through_sqlite is not None
        assert json.dumps(through_sqlite) == json.dumps(status_mod.build(config, engine, now))  # 1 is not true
    doc = status_mod.build_from_sqlite(config, polled)
    assert doc["pending_alerts"] == 1 and doc["failed_alerts"] == 1 and doc["undelivered"][1]["last_error"]
    assert doc["webhooks"]["last_repo"] == "Qwen/Qwen3.7-1B"
    assert any(w.startswith("database: disk") for w in doc["warnings"])
    assert any("pid 41" in w for w in doc["warnings"])  # both runs unstopped: the older one died
    assert len(doc["watches"][0]["repos"]) == 62
    assert any(v["repo"] == "Qwen/Qwen3.7-1B" for v in doc["watches"][0]["variants"])
    assert "Qwen3.6" in json.dumps(doc["watches"][0]["history_windows"])  # the observed generation counts


def open_engine_rw(url: str):
    return open_engine(url)


def test_sqlite_status_falls_back_to_sqlalchemy_when_it_cannot_read_the_file(watcher, hub, tmp_path):
    big_watch(watcher, hub, n=2)
    config = config_mod.load(str(watcher.path))
    now = dt.datetime(2026, 7, 12, 12, 5, tzinfo=UTC)
    assert status_mod.build_from_sqlite(config, now) is not None
    with transaction(open_engine_rw(config.database)) as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert status_mod.build_from_sqlite(config, now) is None  # behind: SQLAlchemy's path says "run db upgrade"
    assert "watcher db upgrade" in watcher("status", "--json").stderr
    missing = config.model_copy(update={"database": f"sqlite:///{tmp_path / 'none.db'}"})
    assert status_mod.build_from_sqlite(missing, now) is None
    assert not (tmp_path / "none.db").exists()


def test_status_json_and_table_import_no_sqlalchemy_on_sqlite(watcher, hub, tmp_path):
    big_watch(watcher, hub, n=20)
    env = {**os.environ, "WATCHER_NOW": "2026-07-12T12:05:00Z"}
    for args in (["status", "--json"], ["status"]):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "watcher", "--config", str(watcher.path),
                                 *args], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
        assert not imported & {"sqlalchemy", "alembic", "huggingface_hub", "github", "slack_sdk", "apscheduler"}
        if args == ["status", "--json"]:
            assert json.loads(result.stdout)["watches"][0]["repos"]
        else:
            assert "qwen3.7" in result.stdout
