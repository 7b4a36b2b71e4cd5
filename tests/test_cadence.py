"""Window math: pure, with today as a parameter."""

from __future__ import annotations

import datetime as dt

import pytest

from watcher import cadence
from watcher.models import WatchState

D = dt.date
START, END = cadence.window(D(2026, 5, 20), 51, 59)


def test_qwen_window():
    assert (START, END) == (D(2026, 7, 10), D(2026, 7, 18))


@pytest.mark.parametrize(
    ("today", "released", "state", "until", "overdue"),
    [
        (D(2026, 7, 1), False, WatchState.WAITING, 9, None),
        (D(2026, 7, 10), False, WatchState.IN_WINDOW, None, None),
        (D(2026, 7, 18), False, WatchState.IN_WINDOW, None, None),
        (D(2026, 7, 19), False, WatchState.OVERDUE, None, 1),
        (D(2026, 11, 29), False, WatchState.OVERDUE, None, 134),
        (D(2026, 11, 29), True, WatchState.RELEASED, None, None),
        (D(2026, 7, 1), True, WatchState.RELEASED, 9, None),
    ],
)
def test_position(today, released, state, until, overdue):
    pos = cadence.position(today, START, END, released)
    assert (pos.state, pos.days_until_window, pos.days_overdue) == (state, until, overdue)


def test_lag_phrase_handles_negative_lags():
    assert cadence.lag_phrase(63, "Qwen3.7-Max") == "63 days after Qwen3.7-Max"
    assert cadence.lag_phrase(-1, "X") == "1 day before X"
    assert cadence.lag_phrase(0, "X") == "the same day as X"
