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
