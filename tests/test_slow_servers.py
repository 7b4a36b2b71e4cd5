"""Slow and hostile servers (issue 16): every request and every cycle ends within the documented bound,
bodies stay bounded while they are decompressed, and a token goes only to the host it was set for."""

from __future__ import annotations

import time

import pytest
from fakes.hub import FakeHub

from watcher.config import GitHubSettings, HubSettings, Watch
from watcher.sources.github import GitHubSource
from watcher.sources.hf import MAX_PAGES, HubSource

TOKEN = "hf_hostiletesttoken123"


def watch(**sources) -> Watch:
    return Watch.model_validate({"name": "w", "flagship": {"name": "F", "released": "2026-01-01"},
                                 "lag_days": {"min": 1, "max": 2}, **sources})


def hub_source(hub, **settings) -> HubSource:
    cfg = HubSettings(endpoint=hub.url, **{"timeout": "1s", "retries": 1, "max_retry_wait": "0s", **settings})
    return HubSource(cfg, sleep=lambda s: None)


def timed_poll(source, w, previous=None):
    started = time.monotonic()
    try:
        return source.poll(w, previous or {}), time.monotonic() - started
    finally:
        source.close()


@pytest.mark.parametrize("fault", ["trickle", "hang"])
def test_hub_request_ends_at_its_wall_clock_timeout(hub, fault):
    """One byte every 0.2 s never trips a 1 s idle timeout; the 1 s wall-clock bound per attempt still holds."""
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    setattr(hub, fault, 0.2 if fault == "trickle" else True)
    report, took = timed_poll(hub_source(hub), watch(huggingface={"authors": ["Qwen"]}))
    # bound: (retries + 1) x timeout = 2 s, plus scheduling slack on a loaded machine
    assert took < 2 + 1.5, took
    assert report.repos == [] and len(report.errors) == 1
    assert "huggingface author Qwen" in str(report.errors[0]) and "Timeout" in str(report.errors[0])
    assert report.complete_scopes == set()


def test_hub_source_stops_at_max_poll_time(hub):
    """Many slow units: each attempt is within `timeout`, all of them together within `max_poll_time`."""
    hub.trickle = 0.2
    repos = [f"Qwen/Qwen3.7-{i}B" for i in range(12)]
    source = hub_source(hub, timeout="5s", retries=2, max_poll_time="1s", concurrency=2)
    report, took = timed_poll(source, watch(huggingface={"repos": repos}))
    assert took < 1 + 1.5, took  # without the per-cycle bound: 12 / 2 x 3 x 5 s = 90 s
    assert len(report.errors) == len(repos) and report.repos == []


@pytest.mark.slow
def test_hub_endless_link_chain_stops_at_the_page_cap(hub):
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.endless_pages = True
    report, _ = timed_poll(hub_source(hub), watch(huggingface={"authors": ["Qwen"]}))
    assert "pagination does not end" in str(report.errors[0])
    assert len(hub.requests_to("/api/models")) <= MAX_PAGES + 2
    assert report.complete_scopes == set()


def test_hub_gzip_bomb_stops_at_the_decoded_cap(hub):
    """100 MB of spaces compress to ~100 KB; the cap (64 MB) acts while decompressing."""
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.bomb_bytes = 100 * 1024 * 1024
    report, _ = timed_poll(hub_source(hub, timeout="20s"), watch(huggingface={"authors": ["Qwen"]}))
    assert len(report.errors) == 1 and "larger than 64 MB once decompressed" in str(report.errors[0])


def test_hub_gzip_listing_still_works(hub):
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.gzip = True
    report, _ = timed_poll(hub_source(hub), watch(huggingface={"authors": ["Qwen"]}))
    assert report.errors == [] and [r.repo_id for r in report.repos] == ["Qwen/Qwen3.7-1B"]


def test_hf_token_never_follows_a_link_to_another_host(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
    hub.page_size = 1
    with FakeHub() as other:
        other.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
        hub.link_base = other.url.replace("127.0.0.1", "localhost")
        report, _ = timed_poll(hub_source(hub), watch(huggingface={"authors": ["Qwen"]}))
        assert other.requests == []
    assert "refused to follow a link to another host (localhost)" in str(report.errors[0])
    assert report.complete_scopes == set()  # a cut listing is not a complete one


def test_hf_token_never_follows_a_redirect_to_another_host(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with FakeHub() as other:
        hub.redirect_to = other.url.replace("127.0.0.1", "localhost")
        report, _ = timed_poll(hub_source(hub), watch(huggingface={"repos": ["Qwen/Qwen3.7-1B"]}))
        assert other.requests == []
    assert "another host" in str(report.errors[0])


# -- GitHub (PyGithub over requests/urllib3) ------------------------------------------------------
def gh_source(github, **settings) -> GitHubSource:
    return GitHubSource(GitHubSettings(api_url=github.url, **{"timeout": "1s", "retries": 1,
                                                                "max_retry_wait": "0s", **settings}))


@pytest.mark.parametrize("fault", ["trickle", "hang"])
def test_github_request_ends_at_its_wall_clock_timeout(github, fault):
    github.add_org("QwenLM")
    github.add_repo("QwenLM/Qwen3.7", private=False)
    setattr(github, fault, 0.2 if fault == "trickle" else True)
    report, took = timed_poll(gh_source(github), watch(github={"repos": ["QwenLM/Qwen3.7"]}))
    assert took < 2 + 1.5, took  # (retries + 1) x timeout
    assert len(report.errors) == 1 and "github QwenLM/Qwen3.7" in str(report.errors[0])
    assert report.repos == [] and report.complete_scopes == set()


def test_github_source_stops_at_max_poll_time(github):
    github.trickle = 0.2
    repos = [f"QwenLM/Qwen3.7-{i}" for i in range(12)]
    source = gh_source(github, timeout="5s", retries=2, max_poll_time="1s", concurrency=2)
    report, took = timed_poll(source, watch(github={"repos": repos}))
    assert took < 1 + 1.5, took
    assert len(report.errors) == len(repos)


def test_github_gzip_bomb_stops_at_the_decoded_cap(github):
    github.add_org("QwenLM")
    github.add_repo("QwenLM/Qwen3.7", private=False)
    github.bomb_bytes = 100 * 1024 * 1024
    report, _ = timed_poll(gh_source(github, timeout="20s"), watch(github={"repos": ["QwenLM/Qwen3.7"]}))
    assert len(report.errors) == 1 and "larger than 64 MB once decompressed" in str(report.errors[0])


def test_github_token_never_follows_a_redirect_to_another_host(github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_hostiletesttoken123")
    with FakeHub() as other:
        github.redirect_to = other.url.replace("127.0.0.1", "localhost")
        report, _ = timed_poll(gh_source(github), watch(github={"repos": ["QwenLM/Qwen3.7"]}))
        assert other.requests == []
    assert len(report.errors) == 1


# -- Slack (slack_sdk over urllib) and the whole `watcher poll` ----------------------------------------
SLACK_TOKEN = "xoxb-hostile-test-token-1"


def slow_everything(watcher, hub, github, slack):
    for section in ("huggingface", "github"):
        watcher.config[section].update(timeout="1s", retries=1, max_retry_wait="0s", max_poll_time="2s")
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "1s",
                               "retries": 1, "max_retry_wait": "0s", "max_delivery_time": "2s"}
    hub.trickle, github.hang, slack.trickle = 0.3, True, 0.3


@pytest.mark.slow
def test_poll_ends_within_the_documented_bound_when_every_server_is_slow(watcher, hub, github, slack):
    """Bound (docs/hostile-data.md): max(max_poll_time) + max_delivery_time per Slack destination."""
    env = {"SLACK_BOT_TOKEN": SLACK_TOKEN}
    slow_everything(watcher, hub, github, slack)
    hub.trickle, github.hang, slack.trickle, slack.down = 0, False, 0, True
    watcher("poll", env=env)  # baseline; the watch_started alert waits in the outbox (Slack 503)
    assert watcher.status(env)["pending_alerts"] == 1
    hub.trickle, github.hang, slack.trickle, slack.down = 0.3, True, 0.3, False
    started = time.monotonic()
    result = watcher("poll", env=env)
    took = time.monotonic() - started
    assert took < 2 + 2 + 3, took  # + 3 s for a loaded 2-CPU machine; without deadlines it never ended
    assert "huggingface author Qwen" in result.output and "github org QwenLM" in result.output
    assert "slack: max_delivery_time (2s) used up" in result.output or "slack: no answer within 1s" in result.output
    assert watcher.status(env)["pending_alerts"] == 1  # kept for the next cycle, not lost


def test_slack_token_never_follows_a_redirect_to_another_host(slack):
    from fakes.slack import FakeSlack

    from watcher.config import SlackSettings
    from watcher.notify import DeliveryError
    from watcher.notify.slack import SlackNotifier

    with FakeSlack() as other:
        slack.redirect_to = other.url.replace("127.0.0.1", "localhost")
        settings = SlackSettings(channel="#x", api_url=slack.url + "/api/", timeout="2s", retries=0)
        notifier = SlackNotifier(settings, token=SLACK_TOKEN)
        with pytest.raises(DeliveryError, match="refused to follow a redirect to another host"):
            notifier.test(["w"])
        assert other.requests == []


def test_slack_request_ends_at_max_delivery_time(slack):
    from watcher.config import SlackSettings
    from watcher.notify import DeliveryError
    from watcher.notify.slack import SlackNotifier

    slack.trickle = 0.2
    settings = SlackSettings(channel="#x", api_url=slack.url + "/api/", timeout="5s", retries=1,
                             max_retry_wait="0s", max_delivery_time="1s")
    notifier = SlackNotifier(settings, token=SLACK_TOKEN)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="max_delivery_time"):
        notifier.test(["w"])
    assert time.monotonic() - started < 1 + 1.5


# -- Retry-After: whatever the server asks, a pause is capped and said ---------------------------------
@pytest.mark.parametrize("asked", ["31536000", "1e12", "inf", "nan", "-5", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_hub_retry_after_is_capped_and_never_a_traceback(watcher, hub, asked):
    from watcher.sources.budget import MAX_PAUSE

    watcher.config["schedule"]["alert_after_failures"] = 2
    hub.fail_next(1, status=429, headers={"Retry-After": asked}, path_contains="author=Qwen")
    started = time.time()
    first = watcher("poll")
    assert first.exit_code == 0 and "Traceback" not in first.output, first.output
    if asked in ("-5", "nan"):  # nothing to wait for: retried at once (within `retries`), and it worked
        assert "0 error(s)" in first.output
        return
    assert "huggingface author Qwen" in first.output and "429" in first.output
    blocked = watcher.status()["rate_limits"]["huggingface"]["blocked_until"]
    import datetime as dt

    until = dt.datetime.fromisoformat(blocked.replace("Z", "+00:00")).timestamp()
    assert until <= started + MAX_PAUSE + 5
    second = watcher("poll")
    assert "huggingface: paused by the server until" in second.output
    assert "source_failing" in second.output  # the second failure in a row: said like any failing source


@pytest.mark.parametrize("asked", ["1e12", "inf", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_github_retry_after_is_capped_and_never_a_traceback(github, asked):
    from watcher.sources.budget import MAX_PAUSE

    github.add_org("QwenLM")
    github.add_repo("QwenLM/Qwen3.7", private=False)
    github.fail_next(1, status=429, headers={"Retry-After": asked}, body={"message": "slow down"})
    source = gh_source(github)
    started = time.time()
    report, _ = timed_poll(source, watch(github={"repos": ["QwenLM/Qwen3.7"]}))
    assert len(report.errors) >= 1 and "unexpected" not in str(report.errors[0])
    assert source.budget.blocked_until is not None and source.budget.blocked_until <= started + MAX_PAUSE + 5
    assert any("paused by the server until" in e for e in map(str, report.errors))
