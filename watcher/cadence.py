"""Release-lag math: where today stands against a watch's expected window. Pure: today is a parameter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from watcher.models import WatchState


@dataclass(frozen=True)
class Position:
    """A watch's state on one day, with the numbers `status` and alerts show."""

    state: WatchState
    window_start: dt.date
    window_end: dt.date
    days_until_window: int | None
    days_overdue: int | None

    def to_dict(self) -> dict:
        return {
            "state": self.state.value,
            "expected_window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "days_until_window": self.days_until_window,
            "days_overdue": self.days_overdue,
        }


def window(released: dt.date, lag_min: int, lag_max: int) -> tuple[dt.date, dt.date]:
    """Expected window: the flagship date plus the lag range, both ends inclusive."""
    return released + dt.timedelta(days=lag_min), released + dt.timedelta(days=lag_max)


def position(today: dt.date, start: dt.date, end: dt.date, released: bool) -> Position:
    """waiting before the window, in_window inside it, overdue after it; released wins over all."""
    until = (start - today).days if today < start else None
    overdue = (today - end).days if today > end else None
    if released:
        state = WatchState.RELEASED
    elif until is not None:
        state = WatchState.WAITING
    elif overdue is not None:
        state = WatchState.OVERDUE
    else:
        state = WatchState.IN_WINDOW
    return Position(state, start, end, until, overdue if state is WatchState.OVERDUE else None)


def lag_phrase(days: int, flagship: str) -> str:
    """'63 days after Qwen3.7-Max' in words people read at a glance; negative lags are real."""
    if days == 0:
        return f"the same day as {flagship}"
    unit = "day" if abs(days) == 1 else "days"
    return f"{abs(days)} {unit} {'after' if days > 0 else 'before'} {flagship}"
