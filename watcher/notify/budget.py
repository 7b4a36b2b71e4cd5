"""Bounded waiting for Slack: Retry-After is honoured, but one cycle never blocks longer than configured.

slack_sdk's retry handlers sleep on `time.sleep` for as long as Slack asks. These subclasses keep its
retry logic and ask a per-cycle `Budget` first: a wait that does not fit is not taken, the request
fails as it is, and the alert stays in the outbox for the next cycle. Tests inject `sleep`/`monotonic`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from watcher.sources.http import retry_after_seconds


class Budget:
    """How long this cycle may still spend on one destination (sleeping included)."""

    def __init__(self, total: float, max_single: float, sleep: Callable[[float], Any] | None = None,
                 monotonic: Callable[[], float] | None = None) -> None:
        self.total, self.max_single = total, max_single
        self.sleep = sleep or time.sleep
        self.monotonic = monotonic or time.monotonic
        self.waits: list[float] = []
        self.start()

    def start(self) -> None:
        """A new cycle: the full allowance again."""
        self.deadline = self.monotonic() + self.total

    def remaining(self) -> float:
        return max(0.0, self.deadline - self.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0

    def can_wait(self, seconds: float) -> bool:
        return seconds <= self.max_single and seconds < self.remaining()

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.sleep(seconds)


def retry_after(response: Any) -> float:
    """Seconds from a Retry-After header (slack_sdk hands headers over as lists); 1 when absent or unreadable."""
    headers = getattr(response, "headers", None) or {}
    flat = {k: (v[0] if isinstance(v, list) and v else v) for k, v in headers.items()}
    seconds = retry_after_seconds({k.lower(): str(v) for k, v in flat.items()})
    return 1.0 if seconds is None else seconds


class BoundedRateLimitHandler(RateLimitErrorRetryHandler):
    """429: wait exactly Retry-After if the budget allows, else give up and leave the alert queued."""

    def __init__(self, budget: Budget, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.budget = budget

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return (super()._can_retry(state=state, request=request, response=response, error=error)
                and self.budget.can_wait(retry_after(response)))

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        state.next_attempt_requested = True
        self.budget.wait(retry_after(response))
        state.increment_current_attempt()


class BoundedConnectionHandler(ConnectionErrorRetryHandler):
    """A dropped connection is retried after a short backoff, within the same budget."""

    def __init__(self, budget: Budget, max_retry_count: int = 1) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.budget = budget

    @staticmethod
    def _delay(state) -> float:
        return 0.5 * 2 ** state.current_attempt

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return (super()._can_retry(state=state, request=request, response=response, error=error)
                and self.budget.can_wait(self._delay(state)))

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        state.next_attempt_requested = True
        self.budget.wait(self._delay(state))
        state.increment_current_attempt()


def handlers(budget: Budget, retries: int) -> list:
    return [BoundedConnectionHandler(budget, max_retry_count=min(retries, 1)),
            BoundedRateLimitHandler(budget, max_retry_count=retries)]
