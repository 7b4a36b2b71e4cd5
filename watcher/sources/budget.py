"""Rate-limit budget of one API: what the server says is left, and who may still spend it.

Why: a watcher that exhausts GitHub's 60 (or 5,000) requests an hour is blind until the window resets,
and one that keeps hammering after a 429 gets blocked for longer. So every request asks first:
high-priority work (listings, named-repo probes) may use the budget down to its last request, low-priority
work (file sizes, release lists of repos we only suspect changed) stops at a reserve, and after a 429 or
a secondary limit nothing is sent until the server's Retry-After has passed. What was not sent is
`deferred`, reported, and redone next cycle. The state is plain data so the pipeline can keep it in the
database between cycles and `watcher status` can show it without any HTTP client.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from watcher.sources.http import retry_after_seconds

HIGH, LOW = "high", "low"
SECONDARY_WAIT = 60.0  # GitHub: a secondary limit without Retry-After means "wait at least a minute"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _epoch(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _int(value: Any) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class Budget:
    """Thread-safe: the source's worker threads all spend from the same budget."""

    def __init__(self, source: str, low_reserve: float = 0.2, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.low_reserve = low_reserve
        self.clock = clock
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.blocked_until: float | None = None
        self.blocked_reason: str | None = None
        self.deferred: list[str] = []
        self._lock = threading.Lock()

    # -- planning ---------------------------------------------------------------------------
    def allow(self, priority: str, what: str) -> bool:
        """Reserve one request, or record `what` as deferred and say no."""
        with self._lock:
            now = self.clock()
            if self.blocked_until is not None and now < self.blocked_until:
                self.deferred.append(what)
                return False
            if self.reset_at is not None and now >= self.reset_at and self.limit is not None:
                self.remaining, self.reset_at = self.limit, None  # a new window began
            if self.remaining is None:
                return True
            floor = 0 if priority == HIGH else max(1, math.ceil((self.limit or 0) * self.low_reserve))
            if self.remaining <= floor:
                self.deferred.append(what)
                return False
            self.remaining -= 1  # pessimistic: a 304 turns out free, the next headers say so
            return True

    def why(self) -> str:
        """Why work is being deferred, in one line."""
        now = self.clock()
        if self.blocked_until is not None and now < self.blocked_until:
            return f"{self.blocked_reason or 'rate limited'}; waiting until {_iso(self.blocked_until)}"
        if self.remaining is not None:
            resets = f", resets {_iso(self.reset_at)}" if self.reset_at else ""
            return f"rate-limit budget low: {self.remaining} of {self.limit} left{resets}"
        return "rate-limit budget"

    # -- what the server said ---------------------------------------------------------------
    def observe_github(self, status: int, headers: Mapping[str, str], message: str = "") -> None:
        """X-RateLimit-* on every answer; a 403/429 limit blocks us until reset or Retry-After.

        Which 403 is a secondary limit is PyGithub's call (`Requester.isSecondaryRateLimitError`), so the
        budget and PyGithub's own retry agree; imported here, not at the top: `status` never loads PyGithub.
        """
        remaining, limit = _int(headers.get("X-RateLimit-Remaining")), _int(headers.get("X-RateLimit-Limit"))
        reset = _int(headers.get("X-RateLimit-Reset"))
        with self._lock:
            if remaining is not None:
                self.remaining, self.limit = remaining, limit if limit is not None else self.limit
            if reset is not None:
                self.reset_at = float(reset)
            if status not in (403, 429):
                return
            from github.Requester import Requester

            now = self.clock()
            retry_after = retry_after_seconds(headers, now)
            if retry_after is not None:
                self._block(now + retry_after, f"HTTP {status} Retry-After {retry_after:g}s")
            elif remaining == 0 and reset is not None:
                self._block(float(reset), f"HTTP {status} primary rate limit exhausted")
            elif Requester.isSecondaryRateLimitError(message) or status == 429:
                self._block(now + SECONDARY_WAIT, f"HTTP {status} secondary rate limit")

    def observe_hub(self, status: int, headers: Mapping[str, str]) -> None:
        """`RateLimit: "api";r=<left>;t=<seconds>` and `RateLimit-Policy: ...;q=<quota>;w=300`; 429 blocks.

        Parsed by huggingface_hub's own `parse_ratelimit_headers` (imported here: `status` stays light).
        """
        from huggingface_hub.utils import parse_ratelimit_headers

        now = self.clock()
        info = parse_ratelimit_headers(headers)
        with self._lock:
            if info is not None:
                self.remaining, self.reset_at = info.remaining, now + info.reset_in_seconds
                if info.limit is not None:
                    self.limit = info.limit
            if status == 429:
                wait = retry_after_seconds(headers, now)
                if wait is None and self.reset_at is not None:
                    wait = self.reset_at - now
                self._block(now + (wait if wait is not None else SECONDARY_WAIT), "HTTP 429 rate limited")

    def _block(self, until: float, reason: str) -> None:
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until, self.blocked_reason = until, reason

    # -- persistence (plain dicts; the store and `status` never import HTTP clients) ---------
    def to_dict(self) -> dict[str, Any]:
        now = self.clock()
        blocked = self.blocked_until if self.blocked_until is not None and self.blocked_until > now else None
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset_at": _iso(self.reset_at),
            "blocked_until": _iso(blocked),
            "blocked_reason": self.blocked_reason if blocked else None,
            "deferred": len(self.deferred),
            "deferred_work": self.deferred[:20],
        }

    @classmethod
    def from_dict(cls, source: str, data: Mapping[str, Any] | None, **kwargs: Any) -> Budget:
        budget = cls(source, **kwargs)
        data = data or {}
        budget.limit, budget.remaining = _int(data.get("limit")), _int(data.get("remaining"))
        budget.reset_at, budget.blocked_until = _epoch(data.get("reset_at")), _epoch(data.get("blocked_until"))
        budget.blocked_reason = data.get("blocked_reason")
        return budget
