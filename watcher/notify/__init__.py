"""Notifiers deliver rendered messages from the outbox. Adding a channel: one file (a `base.Notifier`
subclass), one line in `build`."""

from __future__ import annotations

import os
import re

from watcher.config import Config, SlackRoute
from watcher.notify.base import DeliveryError, Notifier
from watcher.redact import register_secret_env

__all__ = ["DeliveryError", "Notifier", "build", "credential_problems", "destinations", "slack_routes",
           "slack_warning"]

_WEBHOOK_URL = re.compile(r"^https?://[^/\s]+/\S*$")


def slack_credentials() -> tuple[str | None, str | None]:
    return os.environ.get("SLACK_BOT_TOKEN") or None, os.environ.get("SLACK_WEBHOOK_URL") or None


def slack_routes(config: Config) -> tuple[list[tuple[SlackRoute, str | None, str | None]], list[SlackRoute]]:
    """(route, bot token, webhook URL) for every route that has a credential, and the routes that have none.

    A bot token serves every route. A webhook posts to one fixed channel, so SLACK_WEBHOOK_URL serves a
    single route only; more routes each name their own variable with `webhook_env`.
    """
    if config.slack is None:
        return [], []
    token, default_hook = slack_credentials()
    routes = config.slack.all_routes()
    ready, missing = [], []
    for route in routes:
        if route.webhook_env:
            register_secret_env(route.webhook_env)
        hook = os.environ.get(route.webhook_env) if route.webhook_env else (default_hook if len(routes) == 1 else None)
        if token or hook:
            ready.append((route, token, None if token else hook))
        else:
            missing.append(route)
    return ready, missing


def build(config: Config, **slack_options) -> list[Notifier]:
    """Slack routes that have a credential in the environment; the console when none has."""
    ready, _ = slack_routes(config)
    if ready:
        from watcher.notify.slack import SlackNotifier

        return [SlackNotifier(config.slack, route, token=token, webhook_url=hook, **slack_options)
                for route, token, hook in ready]
    from watcher.notify.console import ConsoleNotifier

    return [ConsoleNotifier()]


def destinations(config: Config) -> list[str]:
    """Destination names without building clients, for status output and the outbox."""
    ready, _ = slack_routes(config)
    return [f"slack:{route.channel}" for route, _, _ in ready] or ["console"]


def credential_problems(config: Config) -> list[str]:
    """One line per webhook variable that cannot be a URL; the value itself is a secret and never shown."""
    if config.slack is None:
        return []
    names = ["SLACK_WEBHOOK_URL", *(r.webhook_env for r in config.slack.all_routes() if r.webhook_env)]
    problems = []
    for name in dict.fromkeys(names):
        value = os.environ.get(name)
        if value and not _WEBHOOK_URL.match(value.strip()):
            register_secret_env(name)
            problems.append(f"{name}: not an http(s) webhook URL (is the https:// missing?)")
    return problems


def slack_warning(config: Config) -> str | None:
    ready, missing = slack_routes(config)
    if config.slack is not None and not ready:
        return "slack is configured but neither SLACK_BOT_TOKEN nor SLACK_WEBHOOK_URL is set: alerts go to the console"
    if missing:
        names = ", ".join(f"{r.channel} (set SLACK_BOT_TOKEN or {r.webhook_env or 'a webhook_env for it'})"
                          for r in missing)
        return f"slack routes without a credential get no alerts: {names}"
    return None
