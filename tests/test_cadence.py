"""Window math: pure, with today as a parameter."""

from __future__ import annotations

import datetime as dt

import pytest

from watcher.forecast import cadence, windows
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


# --- the shipped Qwen history (config.yaml), table-driven --------------------------------------------------

from pathlib import Path  # noqa: E402

from watcher import config  # noqa: E402

SHIPPED = config.parse((Path(__file__).resolve().parent / "data" / "legacy_qwen.yaml").read_text(), "config.yaml")
QWEN = SHIPPED.cadences["qwen"]
WATCH = SHIPPED.watch("qwen3.7")
LAGS = {g.generation: g for g in cadence.history_lags(QWEN.history)}


@pytest.mark.parametrize(
    ("generation", "flagship_lag", "previous", "previous_lag", "variant_range"),
    [
        ("Qwen2.5", -131, None, None, (-131, -131)),  # open weights 2024-09-19, Qwen2.5-Max 2025-01-28
        ("Qwen3", -148, "Qwen2.5", 222, (-148, -148)),  # 2025-04-29 vs Qwen3-Max 2025-09-24
        ("Qwen3.5", 0, "Qwen3", 293, (0, 14)),  # same day as Qwen3.5-Plus; small models 14 days later
        ("Qwen3.6", -4, "Qwen3.5", 59, (-4, 2)),  # 35B-A3B 4 days before Max-Preview, 27B 2 days after
    ],
)
def test_shipped_history_lags_on_both_bases(generation, flagship_lag, previous, previous_lag, variant_range):
    gen = LAGS[generation]
    assert gen.flagship_lag == flagship_lag and gen.lag("flagship") == flagship_lag
    assert (gen.previous, gen.previous_lag) == (previous, previous_lag)
    assert gen.lag("previous_open_weights") == previous_lag
    lags = [lag for _, lag in gen.variant_lags]
    assert (min(lags), max(lags)) == variant_range
    assert gen.sources and all(s.startswith("https://") for s in gen.sources)


def test_history_is_ordered_by_first_open_weights_whatever_the_config_order():
    shuffled = QWEN.model_copy(update={"history": list(reversed(QWEN.history))})
    assert [g.generation for g in cadence.history_lags(shuffled.history)] == ["Qwen2.5", "Qwen3", "Qwen3.5", "Qwen3.6"]
    assert cadence.history_lags(shuffled.history)[1].previous_lag == 222


@pytest.mark.parametrize(
    ("basis", "start", "end", "median", "samples", "anchor"),
    [
        # negative lags: on the flagship basis the history says open weights come BEFORE or WITH the flagship
        ("flagship", D(2025, 12, 23), D(2026, 5, 20), D(2026, 3, 14), (-131, -148, 0, -4), D(2026, 5, 20)),
        ("previous_open_weights", D(2026, 6, 14), D(2027, 2, 3), D(2026, 11, 24), (222, 293, 59), D(2026, 4, 16)),
    ],
)
def test_qwen37_history_windows(basis, start, end, median, samples, anchor):
    win = windows.history_window(WATCH, QWEN, "qwen", basis)
    assert (win.start, win.end, win.median, win.samples, win.anchor) == (start, end, median, samples, anchor)
    assert win.source == "cadence" and win.basis == basis


def test_explicit_lag_days_win_and_cadence_alone_gives_the_history_window():
    win = windows.expected_window(WATCH, SHIPPED.cadences)
    assert (win.start, win.end, win.median, win.source) == (D(2026, 7, 10), D(2026, 7, 18), D(2026, 7, 14), "lag_days")
    assert win.source_label == "explicit lag_days" and windows.expected_window(WATCH, {}) == win  # needs no history
    bare = WATCH.model_copy(update={"lag_days": None})
    win = windows.expected_window(bare, SHIPPED.cadences)
    assert (win.start, win.end, win.source_label) == (D(2025, 12, 23), D(2026, 5, 20), "cadence qwen: min..max of 4 generation(s)")
    assert win.describe() == "148 days before to 0 days after Qwen3.7-Max (2026-05-20)"
    other = QWEN.model_copy(update={"basis": "previous_open_weights"})
    win = windows.expected_window(bare, {"qwen": other})
    assert (win.start, win.end) == (D(2026, 6, 14), D(2027, 2, 3))
    assert win.describe() == "59 to 293 days after Qwen3.6 open weights (2026-04-16)"


@pytest.mark.parametrize(("low", "high", "lag_min", "lag_max"), [(0, 100, -148, 0), (50, 50, -68, -67), (25, 75, -136, -3)])
def test_percentile_range(low, high, lag_min, lag_max):
    cad = QWEN.model_copy(update={"percentiles": config.Percentiles(low=low, high=high)})
    win = windows.history_window(WATCH, cad, "qwen")
    assert (win.lag_min, win.lag_max) == (lag_min, lag_max)
    assert win.start <= win.median <= win.end


def test_own_generation_in_the_history_does_not_predict_itself():
    own = config.Generation(generation="Qwen3.7", flagship={"name": "Qwen3.7-Max", "released": "2026-05-20"},
                            open_weights=[{"repo": "Qwen/Qwen3.7-27B", "released": "2026-05-21"}])
    cad = QWEN.model_copy(update={"history": [*QWEN.history, own]})
    for basis in cadence.BASES:
        assert windows.history_window(WATCH, cad, "qwen", basis) == windows.history_window(WATCH, QWEN, "qwen", basis)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 7, 22), "landed 63 days after Qwen3.7-Max, 4 days after the window"),
        (D(2026, 7, 12), "landed 53 days after Qwen3.7-Max, inside the window (day 3 of 9)"),
        (D(2026, 7, 1), "landed 42 days after Qwen3.7-Max, 9 days before the window opened"),
        (D(2026, 5, 19), "landed 1 day before Qwen3.7-Max, 52 days before the window opened"),
    ],
)
def test_landed_phrase(day, expected):
    assert cadence.landed(WATCH, windows.expected_window(WATCH, SHIPPED.cadences), day) == expected


@pytest.mark.parametrize(("low", "high", "text"), [(51, 59, "51 to 59 days after"), (-148, 0, "148 days before to 0 days after"),
                                                   (-5, -2, "2 to 5 days before"), (1, 1, "1 day after")])
def test_lag_range_words(low, high, text):
    assert cadence.lag_range(low, high) == text
