"""Delivery against the fake Slack: rate limits, outages, permanent errors, backlog, exactly once, in order."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from fakes.server import Response
from slack_helpers import Cycles

GB = 1_000_000_000


@pytest.fixture
def cycles(hub, github, slack, tmp_path):
    github.anon_limit = 10**6  # hundreds of cycles; GitHub's hourly limit is not under test here
    return Cycles(hub, github, slack, tmp_path, slack_cfg={"timeout": "0.3s"})


def posts(slack):
    return [r for r in slack.requests_to("chat.postMessage")]


def test_429_retry_after_is_honoured_without_real_sleeping(cycles, slack):
    slack.rate_limit_next(2, retry_after=3, path_contains="chat.postMessage")
    started = time.monotonic()
    result = cycles()
    assert result.delivered == 1 and result.pending == 0
    assert cycles.time.sleeps == [3.0, 3.0]  # exactly Retry-After, through the injected sleep
    assert len(posts(slack)) == 3 and len(slack.messages) == 1
    assert time.monotonic() - started < 5


def test_429_beyond_the_cycle_budget_waits_in_the_outbox(hub, github, slack, tmp_path):
    cycles = Cycles(hub, github, slack, tmp_path, slack_cfg={"max_delivery_time": "10s", "max_retry_wait": "6s",
                                                             "retries": 5})
    cycles()
    hub.add_model("Qwen/Qwen3.7-1B", {"README.md": 1})
    slack.rate_limit_next(10, retry_after=4, path_contains="chat.postMessage")
    result = cycles()
    assert cycles.time.sleeps == [4.0, 4.0]  # a third wait would pass the 10 s budget: not taken
    assert result.delivered == 0 and result.pending == 1
    assert "rate limited by Slack; retry after 4s" in result.delivery_errors[0]
    slack.clear_faults()
    slack.rate_limit_next(1, retry_after=60, path_contains="chat.postMessage")  # longer than max_retry_wait
    cycles.time.sleeps.clear()
    result = cycles()
    assert cycles.time.sleeps == [] and result.pending == 1
    slack.clear_faults()
    assert cycles().delivered == 1
    assert len(slack.messages) == 2


@pytest.mark.slow
def test_hundred_cycle_outage_then_every_alert_once_in_order(hub, github, slack, tmp_path, caplog):
    cycles = Cycles(hub, github, slack, tmp_path, slack_cfg={"timeout": "0.3s"}, hub_only=True)
    cycles()
    assert len(slack.messages) == 1
    names = []
    caplog.set_level(logging.DEBUG, logger="watcher")
    for i in range(100):
        if i == 0:
            slack.down = True  # 503 from every endpoint
        elif i == 40:
            slack.down = False
            slack.stop()  # connection refused
        elif i == 80:
            slack.start()
            slack.latency = 0.4  # slower than the 0.3 s timeout
        elif i == 85:
            slack.latency = 0
            slack.error_next(100, "internal_error")  # ok: false, not a delivery
        name = f"Qwen/Qwen3.7-{i}B"
        names.append(name)
        hub.add_model(name, {"README.md": 1})
        result = cycles()
        assert result.delivered == 0 and result.pending == i + 1, (i, result.delivery_errors)
    assert len(slack.messages) == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "waits" in r.getMessage()]
    assert len(warnings) <= 6  # logged when the error changes, not once per cycle
    slack.clear_faults()
    result = cycles()
    assert result.delivered == 100 and result.pending == 0
    announced = [m["text"] for m in slack.messages[1:]]
    assert len(announced) == 100
    assert [next(n for n in names if f"{n} " in t or t.endswith(n) or f"{n}\n" in t) for t in announced] == names
    cycles(3)  # nothing is sent twice
    assert len(slack.messages) == 101
    assert cycles.rows("select count(*) from deliveries where status != 'delivered'") == [(0,)]
    errors = cycles.rows("select distinct last_error from deliveries")
    assert errors == [(None,)]


def test_backlog_older_than_max_age_is_one_summary(hub, github, slack, tmp_path):
    cycles = Cycles(hub, github, slack, tmp_path, slack_cfg={"max_age": "1d"}, step=dt.timedelta(hours=6))
    cycles()
    slack.down = True
    for i in range(8):  # two days of alerts while Slack is down
        hub.add_model(f"Qwen/Qwen3.7-{i}B", {"README.md": 1})
        cycles()
    slack.down = False
    result = cycles()
    assert result.delivered == 8
    summary, *recent = slack.messages[1:]
    # queued 6 h apart, delivered 54 h after the first: the 4 older than a day become one message
    assert summary["blocks"][0]["text"]["text"] == "4 alerts held back while Slack was unreachable"
    body = summary["blocks"][1]["text"]["text"]
    assert "4 repo appeared" in body and "Qwen/Qwen3.7-0B" in body and "Qwen/Qwen3.7-3B" in body
    assert "Qwen/Qwen3.7-4B" not in body
    assert [m["text"].count("Qwen/Qwen3.7-") for m in recent] == [1, 1, 1, 1]
    assert "Qwen/Qwen3.7-4B" in recent[0]["text"] and "Qwen/Qwen3.7-7B" in recent[-1]["text"]
    cycles()
    assert len(slack.messages) == 6


def test_permanent_error_fails_the_alert_with_reason_logged_once(cycles, hub, slack, caplog):
    cycles()
    slack.channels = {"#elsewhere"}  # our channel is gone
    hub.add_model("Qwen/Qwen3.7-1B", {"README.md": 1})
    caplog.set_level(logging.INFO, logger="watcher")
    result = cycles()
    assert result.failed == 1 and result.pending == 0
    cycles(5)
    failed = cycles.rows("select status, attempts, last_error from deliveries where status = 'failed'")
    assert failed == [("failed", 1, "slack: channel_not_found: the channel does not exist or the bot cannot see it "
                                    "(private channel?)")]
    assert len([r for r in caplog.records if "failed for good" in r.getMessage()]) == 1
    assert len(posts(slack)) == 2  # tried once, never again


def test_payload_refused_falls_back_to_plain_text(cycles, hub, slack):
    cycles()
    hub.add_model("Qwen/Qwen3.7-1B", {"README.md": 1})
    slack.error_next(1, "invalid_blocks", path_contains="chat.postMessage")
    assert cycles().delivered == 1
    message = slack.messages[-1]
    assert message["blocks"] is None and "Qwen/Qwen3.7-1B" in message["text"]


def test_split_message_half_sent_is_finished_not_repeated(cycles, hub, slack):
    cycles()
    hub.page_size = 1000
    for i in range(100):  # ~14,000 characters of lines: two messages
        hub.add_model(f"Qwen/Qwen3.7-{i}B-Instruct-With-A-Rather-Long-Name-For-Testing", {"model.safetensors": GB})
    answers = iter([slack.handle, lambda req: Response(503, "<html>503</html>", content_type="text/html")])
    slack.inject(2, lambda req: next(answers)(req), "chat.postMessage")  # part 1 goes through, part 2 fails
    first = len(slack.messages)
    assert cycles().pending == 1
    assert len(slack.messages) == first + 1 and "(1/" in slack.messages[-1]["blocks"][0]["text"]["text"]
    assert cycles().delivered == 1
    headers = [m["blocks"][0]["text"]["text"] for m in slack.messages[first:]]
    count = int(headers[0].rsplit("/", 1)[1].rstrip(")"))
    assert count >= 2
    assert headers == [f"Qwen 3.7 open-weight variants: weights published ({i}/{count})" for i in range(1, count + 1)]


def test_timeout_that_reached_slack_is_not_posted_twice(cycles, hub, slack):
    cycles()
    hub.add_model("Qwen/Qwen3.7-1B", {"README.md": 1})
    slack.latency = 0.5  # Slack posts it, but answers after our 0.3 s timeout
    result = cycles()
    assert result.pending == 1 and "timeout" in result.delivery_errors[0]
    deadline = time.monotonic() + 5
    while len(slack.messages) < 2 and time.monotonic() < deadline:  # the fake is still answering it
        time.sleep(0.01)
    slack.latency = 0
    assert cycles().delivered == 1
    assert [m["text"].count("Qwen/Qwen3.7-1B") for m in slack.messages[1:]] == [1]  # posted once, found, not reposted
    assert slack.requests_to("conversations.history")


@pytest.mark.parametrize("code, words", [
    ("not_in_channel", "the bot is not a member of the channel: /invite it there"),
    ("account_inactive", "the token belongs to a deactivated user or app"),
    ("invalid_auth", "the token is not valid (check SLACK_BOT_TOKEN)"),
    ("token_revoked", "the token was revoked"),
])
def test_permanent_error_codes_fail_without_blocking_later_cycles(cycles, hub, slack, code, words):
    cycles()
    hub.add_model("Qwen/Qwen3.7-1B", {"README.md": 1})
    slack.error_next(1, code, path_contains="chat.postMessage")
    result = cycles()
    assert result.failed == 1 and result.delivery_errors == [f"slack:#open-weights: slack: {code}: {words}"]
    hub.add_model("Qwen/Qwen3.7-2B", {"README.md": 1})  # fixed meanwhile: the next alert goes out
    assert cycles().delivered == 1 and "Qwen/Qwen3.7-2B" in slack.messages[-1]["text"]
