"""Notifiers deliver rendered messages from the outbox. Adding a channel: one file, one line in `build`."""

from __future__ import annotations

import os
from typing import Protocol

from watcher.config import Config
from watcher.notify.render import Message


class DeliveryError(Exception):
    """The destination did not confirm the message; `reason` is safe to show and store."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Notifier(Protocol):
    destination: str

    def send(self, message: Message) -> str | None:
        """Deliver or raise DeliveryError; return the destination's id for the message if it has one."""


def slack_credentials() -> tuple[str | None, str | None]:
    return os.environ.get("SLACK_BOT_TOKEN") or None, os.environ.get("SLACK_WEBHOOK_URL") or None


def build(config: Config) -> list[Notifier]:
    """Slack when it is configured and a credential is in the environment, else the console."""
    token, webhook = slack_credentials()
    if config.slack is not None and (token or webhook):
        from watcher.notify.slack import SlackNotifier

        return [SlackNotifier(config.slack, token=token, webhook_url=webhook)]
    from watcher.notify.console import ConsoleNotifier

    return [ConsoleNotifier()]


def destinations(config: Config) -> list[str]:
    """Destination names without building clients, for status output and the outbox."""
    token, webhook = slack_credentials()
    if config.slack is not None and (token or webhook):
        return [f"slack:{config.slack.channel}"]
    return ["console"]


def slack_warning(config: Config) -> str | None:
    token, webhook = slack_credentials()
    if config.slack is not None and not (token or webhook):
        return "slack is configured but neither SLACK_BOT_TOKEN nor SLACK_WEBHOOK_URL is set: alerts go to the console"
    return None
