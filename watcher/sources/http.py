"""HTTP helpers shared by sources: a retry that can never outlast its cap, and token redaction."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from watcher import deadline
from watcher.models import Reason
from watcher.redact import redact
from watcher.sources.base import reason_for_status
from watcher.sources.budget import MAX_PAUSE, parse_retry_after

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRYABLE = {408, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = MAX_PAUSE  # whatever a server asks (budget.parse_retry_after, the one parser)


class Unavailable(Exception):
    """The API did not answer usefully within our retry budget; the cycle reports it and moves on.

    `reason`: what the source's problem is filed under (models.Reason)."""

    def __init__(self, message: str, reason: Reason = Reason.OTHER) -> None:
        super().__init__(message)
        self.reason = reason


class _RetryableStatus(Exception):
    def __init__(self, status: int, retry_after: float | None, response: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after
        self.response = response


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Retry-After from a response's headers, in seconds from `now` (see budget.parse_retry_after)."""
    return parse_retry_after(headers.get("retry-after") or headers.get("Retry-After"), now)


class BoundedRetry:
    """tenacity around one request: at most `retries` extra tries, never a wait above `max_wait`.

    A server asking for a longer wait (Retry-After past the cap) is not waited for at all: the cycle
    reports it and the next cycle tries again, so one bad API never stalls the daemon.
    """

    def __init__(self, retries: int, max_wait: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.retries = retries
        self.max_wait = max_wait
        self.sleep = sleep

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None)
        backoff = min(self.max_wait, 0.5 * 2 ** (state.attempt_number - 1))
        return hinted if hinted is not None else backoff

    def call(
        self,
        send: Callable[[], T],
        url: str,
        status_of: Callable[[T], int],
        headers_of: Callable[[T], Mapping[str, str]],
        network_errors: tuple[type[BaseException], ...],
        timeouts: tuple[type[BaseException], ...] = (),
    ) -> T:
        def attempt() -> T:
            response = send()
            status = status_of(response)
            if status in RETRYABLE:
                raise _RetryableStatus(status, retry_after_seconds(headers_of(response)), response)
            return response

        def too_long(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            hinted = getattr(exc, "retry_after", None)
            wait = hinted if hinted is not None else 0.0
            left = deadline.remaining()
            out_of_time = left is not None and left <= wait
            return state.attempt_number > self.retries or (hinted is not None and hinted > self.max_wait) or out_of_time

        retrying = Retrying(
            retry=retry_if_exception_type((_RetryableStatus, *network_errors)),
            stop=too_long,
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=lambda state: log_retry(url, state.attempt_number, self.retries + 1,
                                                 state.next_action.sleep if state.next_action else 0.0,
                                                 state.outcome.exception() if state.outcome else None),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _RetryableStatus as exc:
            after = f", retry after {exc.retry_after:g}s" if exc.retry_after is not None else ""
            if exc.status == 429:
                raise Unavailable(f"{url}: HTTP 429 rate limited{after}", Reason.RATE_LIMITED) from None
            raise Unavailable(f"{url}: HTTP {exc.status}{after}", reason_for_status(exc.status)) from None
        except network_errors as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            kind = Reason.TIMEOUT if isinstance(exc, timeouts) else Reason.NETWORK
            raise Unavailable(f"{url}: {type(exc).__name__}: {redact(reason)}", kind) from None



def log_retry(url: str, tried: int, tries: int, wait: float, error: object) -> None:
    """A retry in progress is visible in the log (INFO): a slow cycle says why it is slow."""
    from watcher import reasons

    host = reasons.host_of(url)
    path = url.split("?", 1)[0].split(host, 1)[-1][:80]  # no query string: the Hub's has nine `expand=`
    reason = reasons.plain([f"{type(error).__name__}: {error}"], host, 0) if error is not None else "no answer"
    log.info("%s%s: try %d of %d failed (%s); next in %.1fs", host, path, tried, tries, redact(reason), wait)


class Deferred(Exception):
    """A request not made because the rate-limit budget is kept for more important work; retried next cycle."""


_local = threading.local()


class Tally:
    """Requests made by the unit of work running on this thread (units run concurrently, counts stay exact)."""

    def __init__(self) -> None:
        self.requests = 0

    def __enter__(self) -> Tally:
        self._outer = getattr(_local, "tally", None)
        _local.tally = self
        return self

    def __exit__(self, *exc: object) -> None:
        _local.tally = self._outer
        if self._outer is not None:
            self._outer.requests += self.requests


def count_request() -> None:
    tally = getattr(_local, "tally", None)
    if tally is not None:
        tally.requests += 1


@contextmanager
def priority(level: str) -> Iterator[None]:
    """Requests made inside this block on this thread spend the budget at `level` (see budget.py)."""
    outer = getattr(_local, "priority", "high")
    _local.priority = level
    try:
        yield
    finally:
        _local.priority = outer


def current_priority() -> str:
    return getattr(_local, "priority", "high")
