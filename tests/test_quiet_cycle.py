"""Quiet cycles write only what changed; watches sharing an author share its one listing per cycle."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3

import pytest
import yaml
from helpers import base_config

from watcher import config as config_mod
from watcher.engine.pipeline import run_cycle
from watcher.store.schema import open_current

PAGE_FRAME = 4096 + 24  # one page written to SQLite's WAL


@pytest.fixture
def lab(hub, github, tmp_path):
    """300 models of one author (every other with weights), one Hub-only watch; run(cfg) runs a cycle."""
    for r in range(300):
        hub.add_model(f"Lab/Model-{r}", {"model.safetensors": 1000} if r % 2 == 0 else {"README.md": 10})
    cfg = base_config(hub.url, github.url, tmp_path / "w.db")
    cfg["watches"][0]["huggingface"] = {"authors": ["Lab"], "include": ["Model-*"]}
    cfg["watches"][0].pop("github")
    engines = {}

    def run(data=None):
        config = config_mod.parse(yaml.safe_dump(data or cfg), "test")
        engine = engines.setdefault(config.database, open_current(config.database))
        with contextlib.redirect_stdout(io.StringIO()):
            return run_cycle(config, engine), engine

    run.cfg = cfg
    run.db = tmp_path / "w.db"
    return run


def wal_bytes_of(run) -> tuple[object, int]:
    """One cycle, and the bytes it appended to the WAL (truncated before it, engine kept open)."""
    _, engine = run()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    result, _ = run()
    wal = f"{run.db}-wal"
    return result, os.path.getsize(wal) if os.path.exists(wal) else 0


def repo_rows(db) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        return {repo: (updated, seen) for repo, updated, seen in
                conn.execute("SELECT repo_id, updated_at, last_seen FROM repos")}


def test_a_quiet_cycle_writes_a_few_pages_not_every_repo(lab):
    lab()
    before = repo_rows(lab.db)
    result, written = wal_bytes_of(lab)
    assert result.events == [] and result.errors == []
    assert written <= 16 * 1024, f"{written} bytes ({(written - 32) // PAGE_FRAME} pages) for a quiet cycle"
    assert repo_rows(lab.db) == before  # not one repo row rewritten


def test_a_change_writes_its_row_and_is_announced_once(lab, hub):
    lab()
    lab()
    before = repo_rows(lab.db)
    hub.set_files("Lab/Model-1", {"model.safetensors": 5000})
    result, _ = lab()
    repo_events = [(e.kind.value, e.repo_id) for e in result.events if e.kind.value != "released"]
    assert repo_events == [("weights_published", "Lab/Model-1")]
    after = repo_rows(lab.db)
    assert {k for k in after if after[k] != before[k]} == {"Lab/Model-1"}
    again, _ = lab()
    assert again.events == []


def test_status_shows_a_visible_repo_as_seen_at_the_last_poll(lab, hub):
    from watcher.engine import status

    _, engine = lab()
    result, _ = lab()
    doc = status.build(config_mod.parse(yaml.safe_dump(lab.cfg), "test"), engine, result_time(engine))
    watch = doc["watches"][0]
    assert watch["repos"] and all(r["last_seen"] == watch["last_poll_at"] for r in watch["repos"] if r["visible"])
    hub.remove_model("Lab/Model-3")
    lab()
    doc = status.build(config_mod.parse(yaml.safe_dump(lab.cfg), "test"), engine, result_time(engine))
    gone = next(r for r in doc["watches"][0]["repos"] if r["id"] == "Lab/Model-3")
    assert not gone["visible"] and gone["last_seen"] < doc["watches"][0]["last_poll_at"]


def result_time(engine):
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


@pytest.mark.slow
def test_watches_sharing_an_author_share_one_listing_per_cycle(lab, hub):
    """500 watches of one author, each with its own patterns: one listing per cycle, each watch its repos."""
    cfg = lab.cfg
    template = cfg["watches"][0]
    cfg["watches"] = [{**template, "name": f"w{i}", "huggingface": {"authors": ["Lab"], "include": [f"Model-{i % 300}"]}}
                      for i in range(500)]
    result, _ = lab(cfg)
    assert result.errors == []
    assert len(hub.requests_to("/api/models?")) == 1
    hub.reset_requests()
    hub.set_files("Lab/Model-7", {"model.safetensors": 5000})
    result, _ = lab(cfg)
    listings = hub.requests_to("/api/models?")
    assert len(listings) == 1 and listings[0].query.get("search") == "Model-"
    announced = sorted(e.watch for e in result.events if e.kind.value == "weights_published")
    assert announced == ["w307", "w7"]  # the two watches whose pattern names Model-7
    assert sum(result.requests.values()) == len(hub.requests)
