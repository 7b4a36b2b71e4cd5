"""A dependency-free hook for API responses: sources report, the metrics module (when enabled) listens.

Sources stay ignorant of Prometheus, and a `watcher poll` without metrics pays one empty loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

ResponseListener = Callable[[str, str, Mapping[str, str]], None]
_listeners: list[ResponseListener] = []


def subscribe(listener: ResponseListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unsubscribe(listener: ResponseListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def api_response(source: str, status: int | str, headers: Mapping[str, str] | None = None) -> None:
    """One HTTP answer (or 'error' for a network failure) from `source`; never raises."""
    for listener in list(_listeners):
        try:
            listener(source, str(status), headers or {})
        except Exception:  # noqa: BLE001 - telemetry must never break a poll
            pass


# Webhooks: (outcome, detail, seconds): ("accepted", "queued"|"ignored", None), ("rejected", reason, None),
# ("detected", watch, seconds from the webhook to the alerts of the poll it caused).
WebhookListener = Callable[[str, str, "float | None"], None]
_webhook_listeners: list[WebhookListener] = []


def subscribe_webhooks(listener: WebhookListener) -> None:
    if listener not in _webhook_listeners:
        _webhook_listeners.append(listener)


def unsubscribe_webhooks(listener: WebhookListener) -> None:
    if listener in _webhook_listeners:
        _webhook_listeners.remove(listener)


def webhook(outcome: str, detail: str, seconds: float | None = None) -> None:
    """One webhook judged (or one detection it led to); never raises."""
    for listener in list(_webhook_listeners):
        try:
            listener(outcome, detail, seconds)
        except Exception:  # noqa: BLE001 - telemetry must never break the receiver
            pass
