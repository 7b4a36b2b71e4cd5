"""GitHub without a token: each cycle spends its share of 60 requests an hour, and every repo gets its turn."""

from __future__ import annotations

import contextlib
import io

import pytest
import yaml
from helpers import base_config

from watcher import config as config_mod
from watcher.engine.pipeline import run_cycle
from watcher.store.schema import open_current

NAMED = [f"Lab{i}/Secret-{i}" for i in range(20)]


@pytest.fixture
def spread(hub, github, tmp_path):
    """20 named repos (hidden) and 3 orgs, polled every 15 minutes, no GITHUB_TOKEN."""
    github.events_poll_interval = 0
    github.anon_limit = 10_000  # the cycles here follow each other at once, not 15 minutes apart: the cap is tested
    for org in ("OrgA", "OrgB", "OrgC"):
        github.add_repo(f"{org}/Model-1")
    for name in NAMED:
        github.add_repo(name, private=True)
    cfg = base_config(hub.url, github.url, tmp_path / "w.db")
    cfg["watches"][0]["github"] = {"repos": NAMED, "orgs": ["OrgA", "OrgB", "OrgC"], "include": ["*"]}
    cfg["watches"][0].pop("huggingface")
    config = config_mod.parse(yaml.safe_dump(cfg), "test")
    engine = open_current(config.database)

    def run():
        github.reset_requests()
        with contextlib.redirect_stdout(io.StringIO()):
            result = run_cycle(config, engine)
        return result, len(github.requests)

    run.cfg = cfg
    return run


def test_each_cycle_stays_within_its_share_and_every_repo_gets_its_turn(spread, github):
    cap = 50 // 4  # 15-minute cycles: four an hour share 50 requests (GitHub allows 60)
    sent, probed = [], set()
    for _ in range(8):
        result, n = spread()
        sent.append(n)
        probed |= {r.path.removeprefix("/repos/") for r in github.requests if r.path.count("/") == 3}
    assert max(sent) <= cap + 2 and sum(sent[-4:]) < 60  # a unit that starts finishes: a probe is 3 requests
    assert set(NAMED) <= probed  # the probes rotate: no repo waits forever
    assert result.deferred and "no token" in result.deferred[0]


def test_a_repo_made_public_is_noticed_within_a_few_cycles(spread, github):
    for _ in range(6):  # every named repo probed once: its hidden state is the baseline
        spread()
    github.set_private(NAMED[-1], False)
    seen = []
    for _ in range(8):
        result, _ = spread()
        seen += [e.repo_id for e in result.events if e.kind.value == "repo_appeared"]
        if seen:
            break
    assert seen == [NAMED[-1]]


def test_status_says_the_budget_is_spread(spread, watcher):
    spread()
    watcher.config = spread.cfg
    doc = watcher.status()
    assert doc["rate_limits"]["github"]["cycle_cap"] == 12
    assert "no token: at most 12 request(s) per cycle" in " ".join(watcher("status").stdout.split())
