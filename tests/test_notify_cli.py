"""`watcher notify test|retry`, `status` listing failed alerts, and the `slack.routes` config."""

from __future__ import annotations

import pytest

TOKEN = "xoxb-test-token-123456"


@pytest.fixture
def slack_watcher(watcher, slack):
    watcher.config["slack"] = {"channel": "#open-weights", "api_url": slack.url + "/api/", "timeout": "5s"}
    return watcher


def test_notify_test_ok_with_bot_token(slack_watcher, slack):
    result = slack_watcher("notify", "test", env={"SLACK_BOT_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("slack:#open-weights: ok (posted to C")
    assert len(slack.messages) == 1 and "test message" in slack.messages[0]["text"]
    assert not (slack_watcher.path.parent / "watcher.db").exists()  # a test message is not an alert


def test_notify_test_reports_each_destination_in_plain_words(slack_watcher, slack):
    slack_watcher.config["slack"] = {"api_url": slack.url + "/api/", "routes": [
        {"channel": "#open-weights"}, {"channel": "#leadership", "events": ["overdue"]}]}
    slack.channels = {"#open-weights"}
    result = slack_watcher("notify", "test", env={"SLACK_BOT_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("slack:#open-weights: ok")
    assert result.stdout.splitlines()[1] == ("slack:#leadership: FAILED: slack: channel_not_found: the channel does "
                                             "not exist or the bot cannot see it (private channel?)")
    slack.valid_tokens = {"xoxb-other"}
    result = slack_watcher("notify", "test", env={"SLACK_BOT_TOKEN": TOKEN})
    assert "FAILED: slack: invalid_auth: the token is not valid (check SLACK_BOT_TOKEN)" in result.stdout
    assert TOKEN not in result.output


def test_notify_test_webhook_outage_and_missing_credential(slack_watcher, slack):
    env = {"SLACK_WEBHOOK_URL": slack.webhook_url}
    assert slack_watcher("notify", "test", env=env).stdout == "slack:#open-weights: ok (posted through the webhook)\n"
    slack.revoke_webhook(slack.webhook_url)
    result = slack_watcher("notify", "test", env=env)
    assert result.exit_code == 1
    assert "FAILED: slack webhook: HTTP 404 no_service: the webhook URL is revoked or wrong" in result.stdout
    assert slack.webhook_url.split("/services/")[1] not in result.output
    result = slack_watcher("notify", "test")
    assert result.exit_code == 1 and "slack:#open-weights: FAILED: no credential" in result.stdout
    slack.down = True
    result = slack_watcher("notify", "test", env={"SLACK_BOT_TOKEN": TOKEN})
    assert result.exit_code == 1 and "HTTP 503 (Slack is unavailable)" in result.stdout


def test_notify_test_console_without_slack(watcher):
    result = watcher("notify", "test")
    assert result.exit_code == 0 and "console: ok (printed)" in result.stdout


def test_status_lists_failed_alerts_and_retry_requeues_them(slack_watcher, hub, slack):
    env = {"SLACK_BOT_TOKEN": TOKEN}
    slack.channels = {"#elsewhere"}
    out = slack_watcher("poll", env=env).stdout
    assert "alerts delivered 0, pending 0, failed 1" in out
    status = slack_watcher.status(env)
    assert status["failed_alerts"] == 1
    assert status["undelivered"][0]["status"] == "failed"
    assert "channel_not_found" in status["undelivered"][0]["last_error"]
    text = slack_watcher("status", env=env).stdout
    assert "failed #1 qwen3.7 -> slack:#open-weights: slack: channel_not_found: the channel does not exist" in text
    slack.channels = set()  # the bot was invited
    assert "1 failed alert(s) queued again" in slack_watcher("notify", "retry", env=env).stdout
    assert "alerts delivered 1, pending 0" in slack_watcher("poll", env=env).stdout
    assert slack_watcher.status(env)["failed_alerts"] == 0 and len(slack.messages) == 1


def test_routes_config(slack_watcher, slack):
    def check(slack_cfg):
        slack_watcher.config["slack"] = {"api_url": slack.url + "/api/", **slack_cfg}
        return slack_watcher("check-config", env={"SLACK_BOT_TOKEN": TOKEN})

    result = check({"routes": [{"channel": "#a"}, {"channel": "#b", "events": ["overdue", "weights_published"]}]})
    assert result.exit_code == 0 and "alerts to slack:#a, slack:#b" in result.stdout
    result = check({"channel": "#a", "routes": [{"channel": "#b"}]})
    assert result.exit_code == 2 and "slack: Value error, use either channel" not in result.stderr
    assert "use either channel (one route) or routes, not both" in result.stderr
    result = check({"routes": [{"channel": "#b", "events": ["overdeu"]}]})
    assert result.exit_code == 2 and "slack.routes[0].events: 'overdeu' is not an event kind" in result.stderr
    assert check({}).exit_code == 2
    assert check({"routes": [{"channel": "#a"}, {"channel": "a"}]}).exit_code == 2


def test_webhook_routes_need_their_own_urls(slack_watcher, slack):
    other = slack.webhook_url_for(slack.add_webhook("#leadership"))
    slack_watcher.config["slack"] = {"api_url": slack.url + "/api/", "routes": [
        {"channel": "#open-weights", "webhook_env": "SLACK_WEBHOOK_OPEN"},
        {"channel": "#leadership", "webhook_env": "SLACK_WEBHOOK_LEADERSHIP"}]}
    env = {"SLACK_WEBHOOK_OPEN": slack.webhook_url, "SLACK_WEBHOOK_LEADERSHIP": other}
    result = slack_watcher("notify", "test", env=env)
    assert result.exit_code == 0 and result.stdout.count(": ok") == 2
    assert {m["channel"] for m in slack.messages} == {slack.messages_in("#alerts")[0]["channel"],
                                                      slack.messages_in("#leadership")[0]["channel"]}
    result = slack_watcher("notify", "test", env={"SLACK_WEBHOOK_OPEN": slack.webhook_url})
    assert result.exit_code == 1 and "slack:#leadership: FAILED: no credential" in result.stdout
    assert slack_watcher("db", "upgrade").exit_code == 0  # status reads a database; it never creates one
    assert "SLACK_WEBHOOK_LEADERSHIP" in slack_watcher.status({"SLACK_WEBHOOK_OPEN": slack.webhook_url})["warnings"][0]
