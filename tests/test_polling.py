"""Polling at scale against the fakes: conditional requests, the event feed, the rate budget, concurrency."""

from __future__ import annotations

import json
import sqlite3

import pytest
import yaml
from helpers import base_config

from watcher import config as config_mod
from watcher.engine.pipeline import run_cycle
from watcher.store.schema import open_current

TOKEN = "ghp_testtoken123456"
GB = 1_000_000_000


@pytest.fixture
def cycle(hub, github, tmp_path, monkeypatch):
    """run_cycle on a config pointed at the fakes, authorized on GitHub (304s are free), feed polled freely."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.events_poll_interval = 0
    cfg = base_config(hub.url, github.url, tmp_path / "w.db")
    engine = {}

    def run(**changes):
        data = json.loads(json.dumps(cfg))
        for key, value in changes.items():
            data.setdefault(key, {}).update(value) if isinstance(value, dict) else data.__setitem__(key, value)
        config = config_mod.parse(yaml.safe_dump(data), "test")
        engine.setdefault(config.database, open_current(config.database))
        return run_cycle(config, engine[config.database])

    run.cfg = cfg
    return run


def kinds(result):
    return sorted((e.kind.value, e.repo_id, e.data.get("tag")) for e in result.events)


def used(github):
    return github._rate[TOKEN][0]


def test_steady_state_is_conditional_and_free(cycle, github, hub):
    github.add_repo("QwenLM/Qwen3.7")
    github.add_repo("QwenLM/Qwen3.7-Coder")
    github.add_release("QwenLM/Qwen3.7-Coder", "v1")
    cycle()
    before = used(github)
    github.reset_requests()
    result = cycle()
    assert result.events == [] and result.errors == []
    sent = [r for r in github.requests]
    assert sent and all(r.headers.get("If-None-Match") for r in sent)  # every request conditional
    assert used(github) == before  # answered 304: no quota spent
    assert not [r for r in sent if "/QwenLM/Qwen3.7-Coder/" in r.path]  # no event, no listing move: no details


def test_release_in_org_repo_found_through_event_feed_in_one_cycle(cycle, github):
    github.add_repo("QwenLM/Qwen3.7-Coder")
    cycle()
    cycle()
    github.add_release("QwenLM/Qwen3.7-Coder", "v2.0")  # no listing change: only the feed tells
    github.reset_requests()
    result = cycle()
    assert kinds(result) == [("release_published", "QwenLM/Qwen3.7-Coder", "v2.0")]
    assert github.requests_to("/repos/QwenLM/Qwen3.7-Coder/releases")


def test_named_repo_etag_change_detected_within_one_cycle(cycle, github):
    github.add_repo("QwenLM/Qwen3.7")
    cycle()
    cycle()
    github.add_release("QwenLM/Qwen3.7", "v1.1")
    assert kinds(cycle()) == [("release_published", "QwenLM/Qwen3.7", "v1.1")]
    github.set_private("QwenLM/Qwen3.7", True)  # no event exists for this: the 404 / listing tells
    assert [k for k, *_ in kinds(cycle())] == ["repo_hidden"]


def test_org_repo_made_private_is_noticed_without_any_event(cycle, github):
    github.add_repo("QwenLM/Qwen3.7-Coder")
    cycle()
    cycle()
    github.set_private("QwenLM/Qwen3.7-Coder", True)
    assert kinds(cycle()) == [("repo_hidden", "QwenLM/Qwen3.7-Coder", None)]


def test_poll_interval_of_the_event_feed_is_honoured(cycle, github):
    github.events_poll_interval = 60
    github.add_repo("QwenLM/Qwen3.7-Coder")
    cycle()
    cycle()
    assert len(github.requests_to("/orgs/QwenLM/events")) == 1


def test_two_watches_on_one_org_both_see_a_release(cycle, github):
    """The listing cache is shared, the feed cursor is per watch: one watch's 304 cannot hide it from the other."""
    github.add_repo("QwenLM/Qwen3.7-Coder")
    second = dict(cycle.cfg["watches"][0], name="other", huggingface=None)
    second["github"] = {"orgs": ["QwenLM"], "include": ["*Coder*"]}
    cycle.cfg["watches"].append(second)
    cycle()
    cycle()
    github.add_release("QwenLM/Qwen3.7-Coder", "v3")
    result = cycle()
    assert sorted((e.watch, e.kind.value) for e in result.events) == [
        ("other", "release_published"), ("qwen3.7", "release_published")]


def test_low_budget_defers_details_and_a_later_cycle_catches_up(cycle, github):
    """A 304 never hides a change: deferred work keeps the feed cursor where it was."""
    github.add_repo("QwenLM/Qwen3.7-Coder")
    cycle()
    cycle()
    github.add_release("QwenLM/Qwen3.7-Coder", "v2")
    github.set_rate_limit(3, token=TOKEN)  # enough for listings and probes, not for details
    result = cycle()
    assert result.events == []
    assert result.deferred and "github:" in result.deferred[0] and "budget low" in result.deferred[0]
    db = sqlite3.connect(cycle.cfg["database"].removeprefix("sqlite:///"))
    state = json.loads(db.execute("select state from api_budget where source='github'").fetchone()[0])
    assert state["deferred"] >= 1 and state["limit"] == 5000
    github.set_rate_limit(5000, token=TOKEN)
    result = cycle()  # the cursor did not move past the release event, so it is read again
    assert kinds(result) == [("release_published", "QwenLM/Qwen3.7-Coder", "v2")]


def test_exhausted_budget_sends_nothing_and_hides_nothing(cycle, github):
    github.add_repo("QwenLM/Qwen3.7")
    cycle()
    github.set_rate_limit(0, token=TOKEN)
    cycle()  # learns remaining = 0 from the first answer (403)
    github.reset_requests()
    result = cycle()
    assert github.requests == []  # nothing sent until the reset
    assert result.events == [] and result.deferred


def test_hub_429_pauses_the_hub_until_retry_after(cycle, hub):
    cycle()
    hub.rate_limit_next(1, retry_after=600)
    first = cycle()
    assert any("429" in e for e in map(str, first.errors))
    hub.reset_requests()
    second = cycle()
    assert hub.requests == [] and second.deferred and "huggingface" in second.deferred[0]
    assert not [e for e in second.events if e.kind.value == "repo_hidden"]


def test_status_shows_the_budget(watcher, github):
    watcher("poll", env={"GITHUB_TOKEN": TOKEN})
    doc = watcher.status()
    gh = doc["rate_limits"]["github"]
    assert gh["limit"] == 5000 and 0 < gh["remaining"] <= 5000 and gh["reset_at"].endswith("Z")
    table = watcher("status").stdout
    assert "Rate limit github:" in table and "of 5000 left" in table


def _timeline(hub, github, step):
    """The same world changes for both runs: repos appear, get weights, releases, tags, go private."""
    if step == 0:
        for i in range(6):
            hub.add_model(f"Lab{i}/Qwen3.7-{i}B", {"README.md": 1})
            github.add_repo(f"Org{i}/Qwen3.7-{i}")
        hub.add_model("Lab0/Qwen3.7-Old", {"model.safetensors": GB})
    elif step == 1:
        for i in range(0, 6, 2):
            hub.set_files(f"Lab{i}/Qwen3.7-{i}B", {"model.safetensors": 2 * GB})
            github.add_release(f"Org{i}/Qwen3.7-{i}", f"v{i}")
        hub.add_model("Lab5/Qwen3.7-New", {"README.md": 1})
    elif step == 2:
        github.add_tag("Org1/Qwen3.7-1", "t1")
        github.set_private("Org3/Qwen3.7-3", True)
        github.add_repo("Org4/Qwen3.7-Extra")
        hub.remove_model("Lab1/Qwen3.7-1B")


@pytest.mark.slow
def test_concurrent_polling_equals_sequential(cycle, hub, github, tmp_path):
    watch = cycle.cfg["watches"][0]
    watch["huggingface"] = {"authors": [f"Lab{i}" for i in range(6)], "include": ["Qwen3.7-*"]}
    watch["github"] = {"orgs": [f"Org{i}" for i in range(6)], "include": ["Qwen3.7*"]}
    seen = {1: [], 8: []}
    for step in range(3):
        _timeline(hub, github, step)
        for workers in (1, 8):
            result = cycle(database=f"sqlite:///{tmp_path}/w{workers}.db",
                           huggingface={"concurrency": workers}, github={"concurrency": workers})
            assert result.errors == []
            seen[workers].append(sorted((e.kind.value, e.repo_id or "", e.dedup_key) for e in result.events))
    assert seen[1] == seen[8]
    assert any(k == "release_published" for k, *_ in seen[8][1]) and len(seen[8][2]) >= 3
    snaps = {}
    for workers in (1, 8):
        db = sqlite3.connect(f"{tmp_path}/w{workers}.db")
        snaps[workers] = sorted(db.execute("select source, repo_id, visible, has_weights, snapshot from repos"))
    assert snaps[1] == snaps[8] and len(snaps[1]) > 12


@pytest.mark.slow
def test_github_secondary_limit_stops_sending_until_retry_after(cycle, github):
    for i in range(4):
        github.add_repo(f"QwenLM/Qwen3.7-{i}")
    cycle()
    github.secondary_limit_next(1, retry_after=900)
    github.reset_requests()
    first = cycle()
    assert any("secondary rate limit" in e for e in map(str, first.errors))
    hit = len(github.requests)
    github.reset_requests()
    second = cycle()
    assert github.requests == [] and second.deferred and "Retry-After 900s" in second.deferred[0]
    assert hit <= 1 + 8  # the limited answer, plus at most what was already in flight on the pool
    assert not [e for e in first.events + second.events if e.kind.value == "repo_hidden"]


def test_an_owner_without_an_event_feed_is_not_asked_for_one_every_cycle(cycle, github):
    github.add_repo("QwenLM/Qwen3.7-Coder")
    not_found = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    github.fail_next(2, status=404, body=not_found, path_contains="/events")  # the org feed, then the user feed
    first = cycle()
    assert first.errors == [] and len(github.requests_to("/events")) == 2
    github.reset_requests()
    github.add_release("QwenLM/Qwen3.7-Coder", "v2.0")
    second = cycle()
    assert github.requests_to("/events") == []
    assert ("release_published", "QwenLM/Qwen3.7-Coder", "v2.0") in kinds(second)  # every repo still checked
