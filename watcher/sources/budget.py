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
import email.utils
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from watcher.models import Reason, SourceProblem

HIGH, LOW = "high", "low"
MAX_PAUSE = 3600.0  # the longest pause any server's answer can impose on a source (docs/hostile-data.md)
LONG_PAUSE = 900.0  # a pause longer than this is reported as a failure of the source (status, source_failing)
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
    except (TypeError, ValueError, OverflowError):  # "inf", "nan", "1e400"
        return None


def parse_retry_after(value: Any, now: float | None = None) -> float | None:
    """Seconds from a Retry-After (delta-seconds or HTTP-date), never negative, never past MAX_PAUSE.

    Whatever the server asks (a year, 1e12, inf) we wait at most MAX_PAUSE and ask again: a pause we
    cannot see the end of is worse than one request too early. None when the value means nothing.
    """
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_PAUSE)


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
        self.cycle_cap: int | None = None  # at most this many requests this cycle (see spread_over_hour)
        self.spent = 0
        self.rotation = 0  # where the next cycle starts in a list of work spread over cycles
        self._lock = threading.Lock()

    def spread_over_hour(self, hourly: int, cycles_per_hour: float) -> None:
        """Cap each cycle at its share of an hourly allowance, so the hour stays under it whatever the work.

        GitHub without a token allows 60 requests an hour and counts 304s too; a watch with a few orgs
        and named repos needs more than that per cycle, so each cycle does its share and the rest waits.
        """
        self.cycle_cap = max(1, math.floor(hourly / max(cycles_per_hour, 1e-9)))

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
            self.spent += 1  # the per-cycle cap is checked before each unit of work (spent_share)
            if self.remaining is None:
                return True
            floor = 0 if priority == HIGH else max(1, math.ceil((self.limit or 0) * self.low_reserve))
            if self.remaining <= floor:
                self.spent -= 1
                self.deferred.append(what)
                return False
            self.remaining -= 1  # pessimistic: a 304 turns out free, the next headers say so
            return True

    def spent_share(self, what: str) -> bool:
        """True when this cycle's share is spent: `what` (a whole unit of work) is deferred to a later cycle.

        Checked per unit, not per request, so a unit that starts also finishes (a repo's probe is three
        requests): the cycle ends at most a unit past its share, and never starves a unit bigger than it.
        """
        with self._lock:
            if self.cycle_cap is None or self.spent < self.cycle_cap:
                return False
            self.deferred.append(what)
            return True

    def why(self) -> str:
        """Why work is being deferred, in one line."""
        now = self.clock()
        if self.blocked_until is not None and now < self.blocked_until:
            return f"{self.blocked_reason or 'rate limited'}; waiting until {_iso(self.blocked_until)}"
        if self.cycle_cap is not None and self.spent >= self.cycle_cap:
            return (f"no token: {self.cycle_cap} request(s) per cycle keep the hour under the unauthenticated "
                    f"limit; the rest is spread over the next cycles")
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
            now = self.clock()
            if reset is not None:
                self.reset_at = min(float(reset), now + MAX_PAUSE)
            if status not in (403, 429):
                return
            from github.Requester import Requester  # here, not at the top: `status` stays light

            retry_after = parse_retry_after(headers.get("Retry-After"), now)
            if retry_after is not None:
                self._block(now + retry_after, f"HTTP {status} Retry-After {retry_after:g}s")
            elif remaining == 0 and reset is not None:
                self._block(self.reset_at, f"HTTP {status} primary rate limit exhausted")
            elif Requester.isSecondaryRateLimitError(message) or status == 429:
                self._block(self.clock() + SECONDARY_WAIT, f"HTTP {status} secondary rate limit")

    def observe_hub(self, status: int, headers: Mapping[str, str]) -> None:
        """`RateLimit: "api";r=<left>;t=<seconds>` and `RateLimit-Policy: ...;q=<quota>;w=300`; 429 blocks.

        Parsed by huggingface_hub's own `parse_ratelimit_headers` (imported here: `status` stays light).
        """
        from huggingface_hub.utils import parse_ratelimit_headers

        now = self.clock()
        info = parse_ratelimit_headers(headers)
        with self._lock:
            if info is not None:
                self.remaining, self.reset_at = info.remaining, now + min(info.reset_in_seconds, MAX_PAUSE)
                if info.limit is not None:
                    self.limit = info.limit
            if status == 429:
                wait = parse_retry_after(headers.get("Retry-After"), now)
                if wait is None and self.reset_at is not None:
                    wait = self.reset_at - now
                self._block(now + (wait if wait is not None else SECONDARY_WAIT), "HTTP 429 rate limited")

    def long_pause(self) -> SourceProblem | None:
        """A problem when the server has paused this source for longer than LONG_PAUSE, else None."""
        now = self.clock()
        if self.blocked_until is None or self.blocked_until - now <= LONG_PAUSE:
            return None
        return SourceProblem(self.source, "", None, Reason.RATE_LIMITED,
                             f"paused by the server until {_iso(self.blocked_until)} ({self.blocked_reason})")

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
            "cycle_cap": self.cycle_cap,
            "rotation": self.rotation,
        }

    @classmethod
    def from_dict(cls, source: str, data: Mapping[str, Any] | None, **kwargs: Any) -> Budget:
        budget = cls(source, **kwargs)
        data = data or {}
        budget.limit, budget.remaining = _int(data.get("limit")), _int(data.get("remaining"))
        budget.reset_at, budget.blocked_until = _epoch(data.get("reset_at")), _epoch(data.get("blocked_until"))
        ceiling = budget.clock() + MAX_PAUSE  # a pause stored before the cap existed (or by a bad clock)
        if budget.blocked_until is not None and budget.blocked_until > ceiling:
            budget.blocked_until = ceiling
        budget.blocked_reason = data.get("blocked_reason")
        budget.rotation = _int(data.get("rotation")) or 0
        return budget
