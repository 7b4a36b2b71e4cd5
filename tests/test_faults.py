"""Fault matrix for the sources: every API failure is a one-line error in the report, never a crash,
never a hang, never a false "hidden" (the scope stays incomplete, so known repos keep their state)."""

from __future__ import annotations

import time

import pytest
from fakes.server import Response

from watcher.config import GitHubSettings, HubSettings, Watch
from watcher.sources.github import GitHubSource
from watcher.sources.hf import HubSource

HUB_WATCH = Watch.model_validate({"name": "w", "flagship": {"name": "F", "released": "2026-01-01"},
                                  "lag_days": {"min": 1, "max": 2},
                                  "huggingface": {"authors": ["Qwen"], "include": ["Qwen3.7-*"]}})
GH_WATCH = Watch.model_validate({"name": "w", "flagship": {"name": "F", "released": "2026-01-01"},
                                 "lag_days": {"min": 1, "max": 2},
                                 "github": {"orgs": ["QwenLM"], "include": ["Qwen3.7*"]}})


def hang(seconds):
    def make(req):
        time.sleep(seconds)
        return Response(200, [])
    return make


def looping(req):
    """A `next` link that points back at the same page: the listing never ends."""
    url = req.raw_path if "cursor" in req.raw_path or "page=" in req.raw_path else req.raw_path + "&cursor=x&page=2"
    body = [{"id": "Qwen/Qwen3.7-1B", "modelId": "Qwen/Qwen3.7-1B"}] if "/api/models" in req.path else [
        {"id": 1, "name": "Qwen3.7", "full_name": "QwenLM/Qwen3.7", "private": False,
         "url": f"{req.headers.get('host')}", "owner": {"login": "QwenLM"}}]
    return Response(200, body, {"Link": f'<http://{req.headers["host"]}{url}>; rel="next"'})


FAULTS = {
    "500": lambda fake: fake.fail_next(50, status=500),
    "502": lambda fake: fake.fail_next(50, status=502),
    "503": lambda fake: fake.fail_next(50, status=503),
    "timeout": lambda fake: fake.inject(50, hang(3)),
    "malformed json": lambda fake: fake.inject(50, lambda r: Response(200, '{"id": "Qwen/Qw')),
    "wrong shape": lambda fake: fake.inject(50, lambda r: Response(200, {"unexpected": [1, 2, 3]})),
    "truncated": lambda fake: fake.inject(50, lambda r: Response(200, [{"id": "Qwen/Qwen3.7-1B"}] * 50,
                                                                 truncate_to=40)),
    "pagination loop": lambda fake: fake.inject(1000, looping),
}


def hub_poll(hub, timeout="1s"):
    source = HubSource(HubSettings(endpoint=hub.url, timeout=timeout, retries=1, max_retry_wait="0s"),
                       sleep=lambda s: None)
    try:
        return source.poll(HUB_WATCH, {})
    finally:
        source.close()


def gh_poll(github, timeout="1s"):
    source = GitHubSource(GitHubSettings(api_url=github.url, timeout=timeout, retries=1, max_retry_wait="0s"))
    try:
        return source.poll(GH_WATCH, {})
    finally:
        source.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_hub_fault_is_reported_not_raised(hub, fault):
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    FAULTS[fault](hub)
    started = time.monotonic()
    report = hub_poll(hub)
    assert time.monotonic() - started < 10
    assert report.complete_scopes == set(), report
    assert len(report.errors) == 1 and str(report.errors[0]).startswith("huggingface author Qwen: ")
    assert "\n" not in str(report.errors[0])


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_github_fault_is_reported_not_raised(github, fault):
    github.add_repo("QwenLM/Qwen3.7")
    FAULTS[fault](github)
    started = time.monotonic()
    report = gh_poll(github)
    assert time.monotonic() - started < 15
    assert report.complete_scopes == set(), report
    assert report.errors and str(report.errors[0]).startswith("github org QwenLM: ")
    assert "\n" not in str(report.errors[0])


def test_connection_refused_both_sources(hub, github):
    hub.stop()
    github.stop()
    assert "ConnectError" in str(hub_poll(hub).errors[0])
    assert str(gh_poll(github).errors[0]).startswith("github org QwenLM: ")


def test_hub_repo_listed_but_404_on_detail_keeps_it_visible(hub):
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.fail_next(1, status=404, body={"error": "Entry not found"}, headers={"X-Error-Code": "EntryNotFound"},
                  path_contains="/tree/")
    report = hub_poll(hub)
    assert [s.repo_id for s in report.repos] == ["Qwen/Qwen3.7-1B"] and report.repos[0].visible
    assert report.complete_scopes == {"hf:author:qwen"}
    # one repo's trouble, not the source's: reported as a problem, the source stays healthy
    assert report.errors == [] and "file sizes" in report.problems[0] and "404" in report.problems[0]


def test_github_repo_listed_but_releases_fail_keeps_last_known(github):
    github.add_repo("QwenLM/Qwen3.7")
    github.add_release("QwenLM/Qwen3.7", "v1")
    first = gh_poll(github)
    github.fail_next(3, status=404, body={"message": "Not Found"}, path_contains="/releases")
    source = GitHubSource(GitHubSettings(api_url=github.url, retries=0, max_retry_wait="0s"))
    report = source.poll(GH_WATCH, {s.key: s for s in first.repos})
    assert report.repos[0].releases == ("v1",) and "releases" in report.problems[0] and report.errors == []


def test_failing_source_in_cli_is_named_in_status(watcher, hub):
    hub.inject(50, lambda r: Response(200, '{"broken'), path_contains="/api/models?")
    result = watcher("poll")
    assert result.exit_code == 0
    errors = watcher.status()["last_poll"]["errors"]
    assert any(e.startswith("huggingface author Qwen: ") for e in errors)


def test_locked_database_fails_the_cycle_cleanly_then_recovers(watcher, hub, tmp_path):
    import sqlite3

    assert watcher("poll").exit_code == 0
    watcher.config["database"] += "?timeout=0.2"
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    blocker = sqlite3.connect(tmp_path / "watcher.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        result = watcher("poll")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.exit_code == 1
    assert result.stderr.strip().endswith(
        "cycle not stored: database is locked (another process holds the write lock; retried next cycle)")
    assert "Traceback" not in result.output
    out = watcher("poll").stdout  # the change was not lost: it is seen again
    assert "Weights published: Qwen/Qwen3.7-1B" in out


def test_read_only_database_is_one_line(watcher, tmp_path):
    """Read-only as SQLite itself enforces it (`mode=ro`): file modes do not stop root, which CI runs as,
    and deleting -wal/-shm under this process's own open connection made the outcome depend on GC."""
    assert watcher("poll").exit_code == 0
    db = tmp_path / "watcher.db"
    watcher.config["database"] = f"sqlite:///file:{db}?mode=ro&uri=true"
    result = watcher("poll")
    status = watcher("status")
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("watcher: database sqlite:")
    # status names the problem in one line (a read-only WAL database cannot even be read by SQLite)
    assert status.exit_code == 0 or status.stderr.startswith("watcher: database sqlite:")


@pytest.mark.parametrize("broken", [lambda r: Response(500, {"message": "Server Error"}),
                                    lambda r: Response(200, [{"unexpected": "shape"}]),
                                    lambda r: Response(200, '{"broken')])
def test_broken_event_feed_falls_back_to_the_listing(github, broken):
    github.add_repo("QwenLM/Qwen3.7")
    github.inject(10, broken, path_contains="/events")
    report = gh_poll(github)
    assert report.complete_scopes == {"gh:org:qwenlm"} and report.errors == []
    assert [s.repo_id for s in report.repos] == ["QwenLM/Qwen3.7"]
