"""The rate-limit budget alone: who may spend, when a limit blocks us, what status shows."""

from __future__ import annotations

from watcher.sources.budget import HIGH, LOW, Budget


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_low_priority_stops_at_the_reserve_high_priority_at_zero():
    clock = Clock()
    budget = Budget("github", low_reserve=0.2, clock=clock)
    budget.observe_github(200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "13",
                                "X-RateLimit-Reset": str(int(clock.now) + 600)})
    assert budget.allow(LOW, "a")  # 13 > 12 (20% of 60)
    assert not budget.allow(LOW, "b")  # 12 left: kept for listings and probes
    assert all(budget.allow(HIGH, f"h{i}") for i in range(12))
    assert not budget.allow(HIGH, "last")  # nothing past the budget: we never cause a 403
    assert budget.deferred == ["b", "last"]
    assert "0 of 60 left" in budget.why()
    clock.now += 601  # the window reset
    assert budget.allow(LOW, "c") and budget.remaining == 59


def test_unknown_budget_allows_everything():
    budget = Budget("huggingface")
    assert all(budget.allow(LOW, str(i)) for i in range(100))


def test_secondary_limit_blocks_until_retry_after_or_a_minute():
    clock = Clock()
    budget = Budget("github", clock=clock)
    budget.observe_github(403, {"Retry-After": "30", "X-RateLimit-Remaining": "4000"}, "secondary rate limit")
    assert not budget.allow(HIGH, "x")
    clock.now += 31
    assert budget.allow(HIGH, "y")
    budget.observe_github(403, {}, "You have exceeded a secondary rate limit")
    clock.now += 59
    assert not budget.allow(HIGH, "z")
    clock.now += 2
    assert budget.allow(HIGH, "w")


def test_primary_limit_blocks_until_reset():
    clock = Clock()
    budget = Budget("github", clock=clock)
    reset = int(clock.now) + 900
    budget.observe_github(403, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0",
                                "X-RateLimit-Reset": str(reset)}, "API rate limit exceeded for 127.0.0.1.")
    doc = budget.to_dict()
    assert doc["blocked_until"] and "primary rate limit" in doc["blocked_reason"]
    clock.now = reset + 1
    assert budget.allow(HIGH, "again")


def test_hub_headers_and_429():
    clock = Clock()
    budget = Budget("huggingface", clock=clock)
    budget.observe_hub(200, {"RateLimit": '"api";r=480;t=200', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
    assert (budget.remaining, budget.limit) == (480, 500)
    budget.observe_hub(429, {"RateLimit": '"api";r=0;t=120', "Retry-After": "120"})
    assert not budget.allow(HIGH, "listing")
    clock.now += 121
    assert budget.allow(HIGH, "listing")


def test_round_trip_through_plain_data():
    clock = Clock()
    budget = Budget("github", clock=clock)
    budget.observe_github(429, {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "10",
                                "X-RateLimit-Reset": str(int(clock.now) + 60), "Retry-After": "90"})
    budget.allow(HIGH, "deferred one")
    again = Budget.from_dict("github", budget.to_dict(), clock=clock)
    assert (again.limit, again.remaining) == (5000, 10)
    assert not again.allow(HIGH, "still blocked")  # a new cycle (new process) keeps waiting
    assert budget.to_dict()["deferred"] == 1


def test_retry_after_both_forms_one_parser():
    """RFC 9110: delay-seconds or an HTTP-date; garbage is unknown; a hostile value is capped (MAX_PAUSE)."""
    import datetime as dt
    from email.utils import format_datetime

    from watcher.sources.http import MAX_RETRY_AFTER, retry_after_seconds

    now = 1_800_000_000.0
    date = format_datetime(dt.datetime.fromtimestamp(now + 90, dt.timezone.utc), usegmt=True)
    assert retry_after_seconds({"Retry-After": "120"}, now) == 120
    assert retry_after_seconds({"retry-after": date}, now) == 90
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now) == 0  # in the past
    for bad in ("soon", "nan", "²", "\x00", ""):
        assert retry_after_seconds({"Retry-After": bad}, now) is None, bad
    assert retry_after_seconds({"Retry-After": "-5"}, now) == 0  # nothing to wait for
    assert retry_after_seconds({"Retry-After": "1.5"}, now) == 1.5
    assert retry_after_seconds({"Retry-After": "inf"}, now) == MAX_RETRY_AFTER
    assert retry_after_seconds({"Retry-After": "9" * 40}, now) == MAX_RETRY_AFTER
    assert retry_after_seconds({}, now) is None


def test_http_date_retry_after_blocks_both_sources():
    import datetime as dt
    from email.utils import format_datetime

    clock = Clock()
    date = format_datetime(dt.datetime.fromtimestamp(clock.now + 300, dt.timezone.utc), usegmt=True)
    for budget in (Budget("github", clock=clock), Budget("huggingface", clock=clock)):
        if budget.source == "github":
            budget.observe_github(403, {"Retry-After": date}, "You have exceeded a secondary rate limit.")
        else:
            budget.observe_hub(429, {"Retry-After": date})
        assert "Retry-After 300s" in budget.why() or "rate limited" in budget.why()
        clock.now += 299
        assert not budget.allow(HIGH, "x")
        clock.now += 2
        assert budget.allow(HIGH, "y")
        clock.now -= 301


def test_secondary_limit_is_what_pygithub_calls_one():
    """A 403 without Retry-After is a secondary limit when PyGithub's own check says so (then a minute)."""
    clock = Clock()
    budget = Budget("github", clock=clock)
    budget.observe_github(403, {}, "Resource not accessible by integration")  # a permission 403, not a limit
    assert budget.allow(HIGH, "x")
    budget.observe_github(403, {}, "You have triggered an abuse detection mechanism. "
                                   "Please wait a few minutes before you try again.")
    assert not budget.allow(HIGH, "y") and "secondary rate limit" in budget.why()
