"""Alerts through the outbox: console by default, Slack via slack_sdk against the fake Slack."""

from __future__ import annotations

import pytest

from watcher.notify.render import build_message, escape, plain_text

GB = 1_000_000_000
TOKEN = "xoxb-test-token-123456"


@pytest.fixture
def database_url(any_database):
    """Delivery through the outbox runs on SQLite and on PostgreSQL."""
    return any_database


@pytest.fixture
def slack_watcher(watcher, slack):
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "5s"}
    return watcher



def test_slack_bot_token_posts_one_message_per_cycle(slack_watcher, hub, slack):
    env = {"SLACK_BOT_TOKEN": TOKEN}
    slack.valid_tokens = {TOKEN}
    slack_watcher.poll(env)
    for size in (7, 32):
        hub.add_model(f"Qwen/Qwen3.7-{size}B", {"model.safetensors": size * GB})
    out = slack_watcher.poll(env)
    assert "alerts delivered 1, pending 0" in out
    assert len(slack.messages) == 2  # watch_started, then the drop
    message = slack.messages[-1]
    assert message["channel"] == slack.messages_in("#open-weights")[-1]["channel"]
    assert "Weights published" in message["text"]
    section = message["blocks"][1]["text"]["text"]
    assert f"<{hub.url}/Qwen/Qwen3.7-7B|Qwen/Qwen3.7-7B>" in section and "32.0 GB" in section
    posts = slack.requests_to("chat.postMessage")
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in posts)


@pytest.mark.slow
def test_slack_failing_then_recovering_delivers_each_alert_once_in_order(slack_watcher, hub, slack):
    env = {"SLACK_BOT_TOKEN": TOKEN}
    slack_watcher.poll(env)
    assert len(slack.messages) == 1
    slack.down = True
    hub.add_model("Qwen/Qwen3.7-1B", {"README.md": 1})
    out = slack_watcher.poll(env)
    assert "alerts delivered 0, pending 1" in out
    hub.set_files("Qwen/Qwen3.7-1B", {"model.safetensors": GB})
    out = slack_watcher.poll(env)
    assert "alerts delivered 0, pending 2" in out
    status = slack_watcher.status(env)
    assert status["pending_alerts"] == 2
    assert status["undelivered"][0]["last_error"].startswith("slack")
    slack.down = False
    slack.error_next(1, "internal_error")  # an ok:false answer is not a delivery either
    assert "alerts delivered 0, pending 2" in slack_watcher.poll(env)
    out = slack_watcher.poll(env)
    assert "alerts delivered 2, pending 0" in out
    texts = [m["text"] for m in slack.messages]
    assert len(texts) == 3
    assert "New repo, no weights yet" in texts[1] and "Weights published" in texts[2]
    slack_watcher.poll(env)
    assert len(slack.messages) == 3  # nothing is sent twice
    assert slack_watcher.status(env)["pending_alerts"] == 0


def test_slack_rate_limit_keeps_alert_pending(slack_watcher, slack):
    env = {"SLACK_BOT_TOKEN": TOKEN}
    slack_watcher.config["slack"]["max_retry_wait"] = "10s"  # a longer Retry-After waits for the next cycle
    slack.rate_limit_next(1, retry_after=30)
    out = slack_watcher.poll(env)
    assert "pending 1" in out and "ratelimited" in out
    assert "delivered 1" in slack_watcher.poll(env)
    assert len(slack.messages) == 1


def test_slack_webhook(slack_watcher, hub, slack):
    env = {"SLACK_WEBHOOK_URL": slack.webhook_url}
    slack_watcher.poll(env)
    slack.webhook_error_next(1, status=500, body="rollup_error")
    hub.add_model("Qwen/Qwen3.7-4B", {"model.gguf": GB})
    out = slack_watcher.poll(env)
    assert "slack webhook: HTTP 500 rollup_error" in out and "pending 1" in out
    assert slack.webhook_url.split("/services/")[1] not in out  # the webhook URL is a secret
    out = slack_watcher.poll(env)
    assert "delivered 1" in out
    assert [m["via"] for m in slack.messages] == ["webhook", "webhook"]
    assert "Qwen/Qwen3.7-4B" in slack.messages[-1]["text"]


def test_slack_section_without_credentials_falls_back_to_console(slack_watcher, slack):
    out = slack_watcher.poll()
    assert "[qwen3.7]" in out and "delivered 1" in out
    assert slack.messages == []
    assert "neither SLACK_BOT_TOKEN nor SLACK_WEBHOOK_URL" in slack_watcher.status()["warnings"][0]


def test_api_text_cannot_ping_or_break_links(slack_watcher, github, slack):
    """A repo id cannot carry `<`, `!` or `@` (such ids are dropped, test_bad_data.py); a git tag can."""
    env = {"SLACK_BOT_TOKEN": TOKEN}
    github.add_repo("QwenLM/Qwen3.7", private=False)
    slack_watcher.poll(env)
    github.add_release("QwenLM/Qwen3.7", "v<!channel>&<@U123>")
    slack_watcher.poll(env)
    section = slack.messages[-1]["blocks"][1]["text"]["text"]
    assert "<!channel>" not in section and "<@U123>" not in section
    assert "&lt;!channel&gt;&amp;&lt;@U123&gt;" in section
    fallback = slack.messages[-1]["text"]  # Slack parses `text` for mentions too
    assert "<!channel>" not in fallback and "&lt;!channel&gt;" in fallback


def test_render_escapes_and_groups_by_repo():
    events = [
        {"kind": "repo_appeared", "source": "huggingface", "repo_id": "Q/A-FP8", "data": {"url": "u/A-FP8"}},
        {"kind": "weights_published", "source": "huggingface", "repo_id": "Q/A-FP8",
         "data": {"url": "u/Q/A-FP8", "weights": True, "weight_bytes": 5 * GB, "params": 7_600_000_000}},
        {"kind": "repo_hidden", "source": "huggingface", "repo_id": "Q/<b>", "data": {"url": "u"}},
    ]
    message = build_message("w", "Title & co", events, "ctx")
    text = plain_text(message)
    assert "New repo" not in text and "Weights published: Q/A-FP8 (5.0 GB, 7.6B params, FP8)" in text
    assert message.headline == "Title & co: weights published"
    assert [i.repo for i in message.items] == ["Q/A-FP8", "Q/<b>"]
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_console_is_default_and_marks_delivered(watcher, hub):
    out = watcher.poll()
    assert "[qwen3.7] Qwen 3.7 open-weight variants: watching started" in out
    status = watcher.status()
    assert status["destinations"] == ["console"] and status["pending_alerts"] == 0
