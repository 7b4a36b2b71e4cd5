"""Each expected variant's state on a day: its window, whether it landed, which repo fulfilled it. Pure.

A watch's "released" is its first variant; the others keep their own windows, so one late variant is
still visible (and named) after the first one landed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.forecast import cadence
from watcher.forecast import variants as vmod
from watcher.models import WatchState


@dataclass(frozen=True)
class Landing:
    """A repo of the watch with open weights, and the day it counts from."""

    repo: str
    day: dt.date
    url: str | None = None
    dated_by: str = "seen"  # "seen" (first poll with weights) or "createdAt" (already there at the baseline)
    created_at: str | None = None  # the repo's createdAt as the Hub gave it


@dataclass(frozen=True)
class VariantState:
    label: str
    state: str
    start: dt.date | None = None
    end: dt.date | None = None
    median: dt.date | None = None
    repo: str | None = None
    landed: dt.date | None = None
    expected: bool = True  # False: a variant nobody listed, seen anyway
    by_window: str | None = None  # before any successful poll: the state the window alone gives

    @property
    def key(self) -> str:
        return self.label.lower()

    @property
    def off_by(self) -> int | None:
        """Days the landing came after (+) or before (-) its most likely date."""
        return (self.landed - self.median).days if self.landed and self.median else None

    def late_by(self, today: dt.date) -> int | None:
        overdue = WatchState.OVERDUE.value in (self.state, self.by_window)
        return (today - self.end).days if overdue and self.end else None

    def window_text(self) -> str:
        return f"{self.start} to {self.end}" if self.start and self.end else "no window"

    def to_dict(self, today: dt.date) -> dict[str, Any]:
        return {"variant": self.label, "state": self.state, "expected": self.expected,
                "window": {"start": _iso(self.start), "end": _iso(self.end), "median": _iso(self.median)},
                "state_by_window": self.by_window,
                "repo": self.repo, "landed": _iso(self.landed), "days_from_most_likely": self.off_by,
                "days_overdue": self.late_by(today)}


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def parse_day(value: str | None) -> dt.date | None:
    """The date part of a Hub timestamp (`2026-04-16T09:12:00.000Z`); anything else is unknown."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def first_by_variant(landings: Iterable[Landing]) -> dict[str, tuple[str, Landing]]:
    """key -> (label, the landing to name): the variant's first day, and on that day its main repo (not -FP8)."""
    groups: dict[str, list[Landing]] = {}
    labels: dict[str, str] = {}
    for item in landings:
        var = vmod.variant_of(item.repo)
        groups.setdefault(var.key, []).append(item)
        labels.setdefault(var.key, var.label)
    out = {}
    for key, items in groups.items():
        first_day = min(i.day for i in items)
        same_day = [i for i in items if i.day == first_day]
        main = vmod.main_repo(i.repo for i in same_day)
        out[key] = (labels[key], next(i for i in same_day if i.repo == main))
    return out


def expected_variants(watch: Any, win: cadence.Window) -> list[tuple[str, Any]]:
    """(label, VariantWindow or None): the watch's explicit list, else the window's, else nothing."""
    forecasts = {v.key: v for v in win.variants}
    if watch.variants:
        return [(label, forecasts.get(label.lower())) for label in watch.variants]
    return [(v.label, v) for v in win.variants]


def states(watch: Any, win: cadence.Window, landings: Sequence[Landing], today: dt.date,
           polled: bool) -> list[VariantState]:
    """Every expected variant (and any other that landed), smallest first."""
    landed = first_by_variant(landings)
    out = []
    for label, forecast in expected_variants(watch, win):
        start, end, median = (forecast.start, forecast.end, forecast.median) if forecast else (win.start, win.end, win.median)
        hit = landed.pop(label.lower(), None)
        if hit is not None:
            out.append(VariantState(hit[0], WatchState.RELEASED.value, start, end, median, hit[1].repo, hit[1].day))
        elif not polled:
            by_window = cadence.position(today, start, end, False).state.value
            out.append(VariantState(label, WatchState.UNKNOWN.value, start, end, median, by_window=by_window))
        else:
            out.append(VariantState(label, cadence.position(today, start, end, False).state.value, start, end, median))
    for label, item in landed.values():
        out.append(VariantState(label, WatchState.RELEASED.value, repo=item.repo, landed=item.day, expected=False))
    return sorted(out, key=lambda s: (not s.expected, vmod.size_order(s.label)))


def late(variant_states: Sequence[VariantState], today: dt.date) -> str:
    """'27B (expected 2026-06-12 to 2026-06-24, 1 day(s) late), 35B-A3B (...)': the overdue alert's list."""
    parts = [f"{s.label} (expected {s.window_text()}, {s.late_by(today)} day(s) late)"
             for s in variant_states if WatchState.OVERDUE.value in (s.state, s.by_window)]
    return ", ".join(parts)
