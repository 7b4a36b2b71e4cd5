"""slack_sdk used as its authors intend: `conversations.list` paged by iterating the response."""

from __future__ import annotations

from fakes.slack import channel_id

from watcher.config import SlackSettings
from watcher.notify.slack import SlackNotifier


def notifier(slack, channel: str) -> SlackNotifier:
    settings = SlackSettings(channel=channel, api_url=f"{slack.url}/api/", timeout="5s", retries=0)
    return SlackNotifier(settings, token="xoxb-test")


def test_channel_found_on_the_third_page(slack):
    """450 channels, 200 a page: slack_sdk follows next_cursor itself; we stop at the match."""
    for i in range(450):
        slack.names[channel_id(f"#team-{i:03d}")] = f"team-{i:03d}"
    target = sorted(slack.names.items())[420]
    assert notifier(slack, f"#{target[1]}").lookup_channel() == target[0]
    pages = slack.requests_to("conversations.list")
    assert len(pages) == 3
    assert [p.body.get("cursor") if isinstance(p.body, dict) else None for p in pages][1:] == ["200", "400"]


def test_unknown_channel_reads_every_page_once_then_gives_up(slack):
    for i in range(250):
        slack.names[channel_id(f"#c{i}")] = f"c{i}"
    assert notifier(slack, "#nowhere").lookup_channel() is None
    assert len(slack.requests_to("conversations.list")) == 2


def test_error_while_listing_is_logged_and_the_caller_posts_again(slack):
    for i in range(250):
        slack.names[channel_id(f"#c{i}")] = f"c{i}"
    slack.inject(1, lambda req: slack.error_response(500, req), path_contains="conversations.list")
    assert notifier(slack, "#c1").lookup_channel() is None
