"""`watcher status` on a big watch: the table summarises (`--all` lists every repo); --check reads SQLite directly."""

from __future__ import annotations

import datetime as dt

from watcher import config as config_mod
from watcher import health


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
