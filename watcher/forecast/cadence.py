"""Release-lag math: a family's history -> lags -> a watch's expected window -> today's position in it.

Pure: no I/O, no clock (today is a parameter). Every place that shows or acts on a window (status, alerts,
the context line of messages, `watcher cadence`, the plot) gets it from `windows.expected_window`, so they agree.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher.models import WatchState

if TYPE_CHECKING:
    from watcher.config import Cadence, Generation, Watch

FLAGSHIP, PREVIOUS, PER_VARIANT, AUTO = "flagship", "previous_open_weights", "per_variant", "auto"
BASES = (FLAGSHIP, PREVIOUS, PER_VARIANT)


class CadenceError(ValueError):
    """The history cannot give a window on this basis (too few generations with the dates it needs)."""


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


@dataclass(frozen=True)
class GenerationLags:
    """One generation's dates and its lags on both bases (negative: open weights came first)."""

    generation: str
    flagship: str | None
    flagship_date: dt.date | None
    open_weights: tuple[tuple[str, dt.date], ...]  # by date, then repo
    sources: tuple[str, ...]
    previous: str | None = None  # the previous generation that had open weights
    previous_date: dt.date | None = None  # its first open-weight release

    @property
    def first_open(self) -> dt.date | None:
        return self.open_weights[0][1] if self.open_weights else None

    @property
    def flagship_lag(self) -> int | None:
        """Flagship -> first open weights, in days."""
        if self.first_open is None or self.flagship_date is None:
            return None
        return (self.first_open - self.flagship_date).days

    @property
    def variant_lags(self) -> tuple[tuple[str, int | None], ...]:
        """Flagship -> each open-weight variant."""
        base = self.flagship_date
        return tuple((repo, (day - base).days if base else None) for repo, day in self.open_weights)

    @property
    def previous_lag(self) -> int | None:
        """Previous generation's first open weights -> this generation's."""
        if self.first_open is None or self.previous_date is None:
            return None
        return (self.first_open - self.previous_date).days

    def lag(self, basis: str) -> int | None:
        return self.flagship_lag if basis == FLAGSHIP else self.previous_lag


@dataclass(frozen=True)
class Window:
    """An expected window and where it came from, so users can see WHY a release is expected when it is."""

    start: dt.date
    end: dt.date
    median: dt.date
    lag_min: int
    lag_max: int
    lag_median: int
    basis: str
    anchor: dt.date
    anchor_label: str
    source: str  # "lag_days" (explicit) or "cadence"
    cadence: str | None = None
    samples: tuple[int, ...] = ()  # the history's lags the window was computed from
    percentiles: tuple[float, float] = (0.0, 100.0)
    variants: tuple[Any, ...] = ()  # forecast.VariantWindow per expected variant (basis per_variant)
    reason: str = ""  # why this basis (basis auto: what the backtest said)
    track: tuple[int, int] | None = None  # (held, of): how often such windows held in the backtest

    @property
    def source_label(self) -> str:
        if self.source == "lag_days":
            return "explicit lag_days"
        if self.basis == PER_VARIANT:
            return f"cadence {self.cadence}: each variant's own history ({len(self.variants)} variant(s))"
        low, high = self.percentiles
        stat = "min..max" if (low, high) == (0, 100) else f"p{low:g}..p{high:g}"
        return f"cadence {self.cadence}: {stat} of {len(self.samples)} generation(s)"

    @property
    def track_clause(self) -> str:
        """'windows like this held for 1 of 4 past generations': the backtest in one clause."""
        if not self.track:
            return ""
        held, of = self.track
        return f"windows like this held for {held} of {of} past generation{'s' if of != 1 else ''}"

    def describe(self) -> str:
        """'51 to 59 days after Qwen3.7-Max (2026-05-20)'; negative lags read as 'before'."""
        if self.variants:
            return "; ".join(v.describe() for v in self.variants)
        return f"{lag_range(self.lag_min, self.lag_max)} {self.anchor_label} ({self.anchor.isoformat()})"

    def position(self, today: dt.date, released: bool) -> Position:
        return position(today, self.start, self.end, released)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "median": self.median.isoformat(),
            "lag_days": {"min": self.lag_min, "max": self.lag_max, "median": self.lag_median},
            "basis": self.basis, "anchor": {"label": self.anchor_label, "date": self.anchor.isoformat()},
            "source": self.source, "source_label": self.source_label, "cadence": self.cadence,
            "samples": list(self.samples), "percentiles": list(self.percentiles),
            "variants": [v.to_dict() for v in self.variants], "reason": self.reason,
            "track": {"held": self.track[0], "of": self.track[1], "clause": self.track_clause} if self.track else None,
        }


def window(released: dt.date, lag_min: int, lag_max: int) -> tuple[dt.date, dt.date]:
    """Expected window: the anchor date plus the lag range, both ends inclusive."""
    return released + dt.timedelta(days=lag_min), released + dt.timedelta(days=lag_max)


def history_lags(history: Sequence[Generation]) -> list[GenerationLags]:
    """Each generation's lags, oldest first (by first open weights, else flagship date)."""

    def first(gen: Generation) -> dt.date:
        dates = [o.released for o in gen.open_weights]
        if not dates and gen.flagship is not None:
            dates = [gen.flagship.released]
        return min(dates) if dates else dt.date.max

    out: list[GenerationLags] = []
    previous: GenerationLags | None = None
    for gen in sorted(history, key=first):
        weights = tuple(sorted(((o.repo, o.released) for o in gen.open_weights), key=lambda x: (x[1], x[0])))
        lags = GenerationLags(
            gen.generation, gen.flagship.name if gen.flagship else None,
            gen.flagship.released if gen.flagship else None, weights, tuple(gen.source),
            previous.generation if previous else None, previous.first_open if previous else None,
        )
        out.append(lags)
        if lags.first_open is not None:
            previous = lags
    return out


def percentile(values: Sequence[int], q: float) -> float:
    """Linear interpolation between the nearest ranks, as numpy's default does (0 = min, 100 = max)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _round(value: float) -> int:
    return math.floor(value + 0.5)


def own_generation(watch: Watch, lags: GenerationLags) -> bool:
    """A generation the watch must not learn from: its own, or anything dated on or after its flagship.

    The watch's own generation may sit in the history (matched by flagship or generation name), and a
    history written later may hold newer generations (Qwen3.8 in a qwen3.7 watch's cadence). Using them
    would be hindsight: a window that "knows" the release it is waiting for. A generation counts as the
    watch's own or newer when its flagship or its first open weights are dated on or after the watch's
    flagship (families without a closed flagship date their flagship as their first weights).
    """
    flagship = watch.flagship.name.lower()
    if (lags.flagship or "").lower() == flagship or lags.generation.lower() == flagship:
        return True
    day = watch.flagship.released
    return any(d is not None and d >= day for d in (lags.flagship_date, lags.first_open))


def history_of(watch: Watch, cadences: Mapping[str, Cadence]) -> Cadence | None:
    """The cadence a watch names, read from the config's `cadences:` (None: no cadence, or an unknown name)."""
    return cadences.get(watch.cadence) if watch.cadence else None


def beyond_calendar(name: str | None, basis: str) -> str:
    return f"cadence {name or '?'}: on basis {basis} the history's dates put the window outside the calendar"


def lag_window(basis: str, gens: Sequence[GenerationLags], target: Any, params: Any, name: str | None) -> Window:
    """A flagship or previous_open_weights window: percentiles of the history's lags, counted from the anchor
    (per_variant is basis.py's)."""
    samples = tuple(lag for g in gens if (lag := g.lag(basis)) is not None)
    if not samples or (basis == FLAGSHIP and target.flagship_date is None):
        need = "a generation with a flagship and open weights" if basis == FLAGSHIP else \
            "two generations with open weights"
        raise CadenceError(f"cadence {name or '?'}: no lags on basis {basis} (needs {need})")
    if basis == FLAGSHIP:
        anchor, label = target.flagship_date, target.flagship
    else:
        prev = [g for g in gens if g.first_open is not None][-1]  # the latest generation with open weights
        anchor, label = prev.first_open, f"{prev.generation} open weights"
    low, high = params.low, params.high
    lag_min, lag_max = math.floor(percentile(samples, low)), math.ceil(percentile(samples, high))
    lag_median = _round(statistics.median(samples))
    start, end = window(anchor, lag_min, lag_max)
    return Window(start, end, anchor + dt.timedelta(days=lag_median), lag_min, lag_max, lag_median, basis,
                  anchor, label, "cadence", name, samples, (low, high))


def explicit_window(watch: Watch) -> Window:
    """The hand-typed lag_days, always counted from the watch's flagship."""
    lags = watch.lag_days
    assert lags is not None
    middle = _round((lags.min + lags.max) / 2)
    start, end = window(watch.flagship.released, lags.min, lags.max)
    return Window(start, end, watch.flagship.released + dt.timedelta(days=middle), lags.min, lags.max, middle,
                  FLAGSHIP, watch.flagship.released, watch.flagship.name, "lag_days", watch.cadence)


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


def lag_range(low: int, high: int) -> str:
    """'51 to 59 days after', '148 days before to 0 days after': a range crossing zero stays readable."""
    def part(n: int) -> str:
        return f"{abs(n)} {'day' if abs(n) == 1 else 'days'} {'before' if n < 0 else 'after'}"

    if low == high:
        return part(low)
    if (low < 0) == (high < 0):
        unit = "day" if max(abs(low), abs(high)) == 1 else "days"
        a, b = (abs(high), abs(low)) if low < 0 else (low, high)
        return f"{a} to {b} {unit} {'before' if low < 0 else 'after'}"
    return f"{part(low)} to {part(high)}"


def landed(watch: Watch, win: Window, day: dt.date) -> str:
    """'landed 63 days after Qwen3.7-Max, 4 days after the window': how the actual lag compares."""
    text = f"landed {lag_phrase((day - watch.flagship.released).days, watch.flagship.name)}"
    if win.basis == PREVIOUS:
        text += f" ({lag_phrase((day - win.anchor).days, win.anchor_label)})"
    if day > win.end:
        text += f", {lag_phrase((day - win.end).days, 'the window')}"
    elif day < win.start:
        text += f", {lag_phrase(-(win.start - day).days, 'the window opened')}"
    else:
        text += f", inside the window (day {(day - win.start).days + 1} of {(win.end - win.start).days + 1})"
    return text
