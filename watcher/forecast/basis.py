"""Per-variant windows, the backtest, and `basis: auto`. Pure: generations in, windows and numbers out.

Per variant: a generation's `27B` is expected the same number of days after the previous generation's `27B`
as that variant took at its earlier steps (variants matched by name, see variants.py). Only steps between
consecutive generations count: an interval that skips a generation is not one step of the cadence.

The backtest replays the history: every generation is predicted from the generations before it only, on
every basis, and compared with the day its first open weights actually landed. `basis: auto` picks the
basis whose most likely dates were closest on average, so the choice is one a reader can check.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from watcher.forecast import variants as vmod
from watcher.forecast.cadence import (
    AUTO,
    BASES,
    PER_VARIANT,
    PREVIOUS,
    CadenceError,
    GenerationLags,
    Window,
    beyond_calendar,
    lag_phrase,
    lag_window,
    percentile,
)

DEFAULT_TOLERANCE = 7  # days, only when the history has no step where variants' intervals differed
MIN_BACKTEST = 2  # generations a basis must have predicted before `auto` may choose it on its record


@dataclass(frozen=True)
class Target:
    """What is being predicted: a generation's flagship (if any) and the variants expected from it."""

    flagship: str | None
    flagship_date: dt.date | None
    variants: tuple[str, ...] = ()  # labels; () = the variants of the latest generation in the history


@dataclass(frozen=True)
class Params:
    low: float = 0.0
    high: float = 100.0
    tolerance: int | None = None  # days either side of a single interval; None = measured from the history

    @classmethod
    def of(cls, cadence: Any) -> Params:
        return cls(cadence.percentiles.low, cadence.percentiles.high, cadence.tolerance_days)


@dataclass(frozen=True)
class VariantWindow:
    """One expected variant: its window, and the history it came from, in words a reader can check."""

    label: str
    start: dt.date
    end: dt.date
    median: dt.date
    samples: tuple[int, ...]  # this variant's intervals between consecutive generations, oldest first
    anchor: dt.date
    anchor_generation: str
    anchor_repo: str
    tolerance: int | None = None  # set when the intervals had no spread
    tolerance_reason: str = ""
    skipped: int = 0  # steps added because the next one closed before the watch's flagship (see past_flagship)

    @property
    def key(self) -> str:
        return self.label.lower()

    def describe(self) -> str:
        """'27B: 57 days after Qwen3.6-27B (2026-04-22), +-6 days'."""
        lags = sorted(self.samples)
        days = (self.median - self.anchor).days
        text = f"{self.label}: {lag_phrase(days, self.anchor_repo.rsplit('/', 1)[-1])} ({self.anchor})"
        if self.skipped:
            text += f" ({self.skipped + 1} steps of {days // (self.skipped + 1)} days: the next one closed before the flagship)"
        if self.tolerance is not None:
            return text + f" +-{self.tolerance} day(s)"
        return text + f" (steps took {lags[0]}..{lags[-1]} days)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.label, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "median": self.median.isoformat(), "samples": list(self.samples),
            "anchor": {"generation": self.anchor_generation, "repo": self.anchor_repo, "date": self.anchor.isoformat()},
            "tolerance_days": self.tolerance, "tolerance_reason": self.tolerance_reason, "describe": self.describe(),
            "steps": self.skipped + 1,
        }


def by_variant(gen: GenerationLags) -> dict[str, tuple[str, dt.date, str]]:
    """key -> (label, first date, main repo) of one generation's open weights (forms folded together)."""
    repos: dict[str, list[tuple[str, dt.date]]] = {}
    labels: dict[str, str] = {}
    for repo, day in gen.open_weights:
        var = vmod.variant_of(repo)
        repos.setdefault(var.key, []).append((repo, day))
        labels.setdefault(var.key, var.label)
    out = {}
    for key, items in repos.items():
        first = min(day for _, day in items)
        out[key] = (labels[key], first, vmod.main_repo(r for r, _ in items) or items[0][0])
    return out


def _with_weights(gens: Sequence[GenerationLags]) -> list[GenerationLags]:
    return [g for g in gens if g.open_weights]


def step_intervals(gens: Sequence[GenerationLags]) -> list[tuple[str, str, dict[str, int]]]:
    """(from, to, {variant key: days}) for each step between consecutive generations with open weights."""
    out = []
    gens = _with_weights(gens)
    for before, after in zip(gens, gens[1:]):
        a, b = by_variant(before), by_variant(after)
        out.append((before.generation, after.generation, {k: (b[k][1] - a[k][1]).days for k in a.keys() & b.keys()}))
    return out


def _spread(days: dict[str, int]) -> int:
    return max(days.values()) - min(days.values()) if len(days) > 1 else 0


def default_tolerance(steps: Sequence[tuple[str, str, dict[str, int]]], index: int) -> tuple[int, str]:
    """How uncertain one interval is, measured: how far the variants released at the same step disagreed."""
    before, after, days = steps[index]
    if _spread(days) > 0:
        return _spread(days), (f"the variants of the {before} -> {after} step took "
                               f"{min(days.values())} to {max(days.values())} days")
    spreads = [_spread(d) for _, _, d in steps if _spread(d) > 0]
    if spreads:
        value = math.ceil(statistics.median(spreads))
        return value, f"median spread between variants at the {len(spreads)} step(s) where they differed"
    return DEFAULT_TOLERANCE, "no step of the history shows a spread between variants: one week"


def variant_window(gens: Sequence[GenerationLags], key: str, params: Params) -> VariantWindow | None:
    """The variant's window for the generation after `gens`, or None when it has no interval to go by."""
    with_weights = _with_weights(gens)
    if not with_weights:
        return None
    latest = by_variant(with_weights[-1])
    if key not in latest:
        return None  # not in the latest generation: nothing to count from
    steps = step_intervals(with_weights)
    own = [(i, days[key]) for i, (_, _, days) in enumerate(steps) if key in days]
    if not own:
        return None
    label, anchor, repo = latest[key]
    samples = tuple(d for _, d in own)
    tolerance, reason = None, ""
    if max(samples) == min(samples):
        if params.tolerance is not None:
            tolerance, reason = params.tolerance, "set in the cadence (tolerance_days)"
        else:
            tolerance, reason = default_tolerance(steps, own[-1][0])
        low, high = samples[0] - tolerance, samples[0] + tolerance
    else:
        low, high = math.floor(percentile(samples, params.low)), math.ceil(percentile(samples, params.high))
    middle = math.floor(statistics.median(samples) + 0.5)
    day = dt.timedelta
    return VariantWindow(label, anchor + day(days=low), anchor + day(days=high), anchor + day(days=middle), samples,
                         anchor, with_weights[-1].generation, repo, tolerance, reason)


def expected_keys(gens: Sequence[GenerationLags], target: Target) -> list[str]:
    if target.variants:
        return [v.lower() for v in target.variants]
    with_weights = _with_weights(gens)
    return sorted(by_variant(with_weights[-1]), key=vmod.size_order) if with_weights else []


def per_variant_window(gens: Sequence[GenerationLags], target: Target, params: Params, name: str | None) -> Window:
    """The generation's window is its first variant's: open weights have landed when the first one does."""
    keys = expected_keys(gens, target)
    found = [w for k in keys if (w := variant_window(gens, k, params)) is not None]
    if not found:
        raise CadenceError(f"cadence {name or '?'}: no lags on basis per_variant (needs an expected variant in "
                           f"two consecutive generations; expected: {', '.join(keys) or 'none'})")
    return combine(found, keys, params, name)


def combine(found: Sequence[VariantWindow], keys: Sequence[str], params: Params, name: str | None,
            reason: str = "") -> Window:
    """The generation's window from its variants' windows: open weights have landed when the first one does."""
    found = sorted(found, key=lambda w: vmod.size_order(w.label))
    first = min(found, key=lambda w: (w.end, w.start))
    start, end = min(w.start for w in found), first.end
    median = min(w.median for w in found)
    missing = [k for k in keys if k not in {w.key for w in found}]
    note = f"no forecast for {', '.join(missing)} (not in two consecutive generations)" if missing else ""
    note = "; ".join(t for t in (reason, note) if t)
    return Window(start, end, median, (start - first.anchor).days, (end - first.anchor).days,
                  (median - first.anchor).days, PER_VARIANT, first.anchor, first.anchor_repo, "cadence", name,
                  first.samples, (params.low, params.high), tuple(found), note)


# --- the backtest -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One prediction against what happened."""

    label: str  # the generation, or the variant
    start: dt.date
    end: dt.date
    median: dt.date
    actual: dt.date | None

    @property
    def inside(self) -> bool | None:
        return None if self.actual is None else self.start <= self.actual <= self.end

    @property
    def error(self) -> int | None:
        """Days the actual date came after (+) or before (-) the most likely date."""
        return None if self.actual is None else (self.actual - self.median).days

    @property
    def width(self) -> int:
        return (self.end - self.start).days + 1

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "median": self.median.isoformat(), "actual": self.actual.isoformat() if self.actual else None,
                "inside": self.inside, "error_days": self.error, "width_days": self.width}


@dataclass(frozen=True)
class Prediction:
    generation: str
    basis: str
    check: Check  # the generation's first open weights
    variants: tuple[Check, ...] = ()  # per_variant: each variant predicted

    def to_dict(self) -> dict[str, Any]:
        return {"generation": self.generation, "basis": self.basis, **self.check.to_dict(),
                "variants": [v.to_dict() for v in self.variants]}


@dataclass(frozen=True)
class Score:
    """One basis over the whole backtest: how often its windows held and how far its most likely dates were."""

    basis: str
    predicted: int
    held: int
    mean_width: float | None
    mae: float | None  # mean absolute error of the most likely date, days
    variants_predicted: int = 0
    variants_held: int = 0

    @property
    def coverage(self) -> float | None:
        return self.held / self.predicted if self.predicted else None

    def to_dict(self) -> dict[str, Any]:
        return {"basis": self.basis, "generations_predicted": self.predicted, "held": self.held,
                "coverage": self.coverage, "mean_width_days": self.mean_width, "mean_abs_error_days": self.mae,
                "variants_predicted": self.variants_predicted, "variants_held": self.variants_held}


@dataclass(frozen=True)
class Backtest:
    predictions: tuple[Prediction, ...]
    scores: dict[str, Score] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"predictions": [p.to_dict() for p in self.predictions],
                "scores": {b: s.to_dict() for b, s in self.scores.items()}}


def predict(basis: str, gens: Sequence[GenerationLags], target: Target, params: Params, name: str | None) -> Window:
    """One basis's window for `target` from the generations before it."""
    try:
        if basis == PER_VARIANT:
            return per_variant_window(gens, target, params, name)
        return lag_window(basis, gens, target, params, name)
    except OverflowError:  # dates near year 1 or 9999 in a hostile history: a config error, not a crash
        raise CadenceError(beyond_calendar(name, basis)) from None


def backtest(gens: Sequence[GenerationLags], params: Params, bases: Sequence[str] = BASES) -> Backtest:
    """Predict every generation from the earlier ones only, on every basis, and score each basis."""
    return _backtest(tuple(gens), params, tuple(bases))


@lru_cache(maxsize=64)
def _backtest(gens: tuple[GenerationLags, ...], params: Params, bases: tuple[str, ...]) -> Backtest:
    """Cached: status, alerts and every message's context line ask for the same history's record."""
    out: list[Prediction] = []
    for i, gen in enumerate(gens):
        if gen.first_open is None:
            continue
        earlier = gens[:i]
        actual = by_variant(gen)
        target = Target(gen.flagship, gen.flagship_date, tuple(v[0] for v in actual.values()))
        for basis in bases:
            try:
                win = predict(basis, earlier, target, params, None)
            except CadenceError:
                continue
            checks = tuple(Check(v.label, v.start, v.end, v.median, actual[v.key][1]) for v in win.variants)
            out.append(Prediction(gen.generation, basis, Check(gen.generation, win.start, win.end, win.median,
                                                                gen.first_open), checks))
    return Backtest(tuple(out), {b: _score(b, [p for p in out if p.basis == b]) for b in bases})


def _score(basis: str, preds: Sequence[Prediction]) -> Score:
    if not preds:
        return Score(basis, 0, 0, None, None)
    checks = [p.check for p in preds]
    variants = [v for p in preds for v in p.variants]
    return Score(basis, len(checks), sum(bool(c.inside) for c in checks),
                 round(statistics.mean(c.width for c in checks), 1),
                 round(statistics.mean(abs(c.error or 0) for c in checks), 1),
                 len(variants), sum(bool(v.inside) for v in variants))


def choose(scores: dict[str, Score], usable: Sequence[str]) -> tuple[str, str]:
    """The basis with the smallest mean error over at least MIN_BACKTEST generations, and why, in words."""
    ranked = sorted((s for b, s in scores.items() if b in usable and s.predicted >= MIN_BACKTEST),
                    key=lambda s: (s.mae, -(s.coverage or 0), s.mean_width))
    others = "; ".join(_score_words(scores[b]) for b in BASES if b in scores and scores[b].predicted) or "none"
    if len(ranked) == 1:
        return ranked[0].basis, (f"auto: {ranked[0].basis} is the only basis that predicted {MIN_BACKTEST} or more "
                                 f"past generations ({others})")
    if ranked:
        best = ranked[0]
        return best.basis, f"auto: {best.basis} had the smallest mean error in the backtest ({others})"
    fallback = next(b for b in BASES if b in usable)
    return fallback, (f"auto: no basis predicted {MIN_BACKTEST} or more past generations, so {fallback} "
                      f"(the first usable) without a record ({others})")


def _score_words(s: Score) -> str:
    return (f"{s.basis}: most likely date off by {s.mae:g} days on average, window held {s.held} of "
            f"{s.predicted}")


def auto_window(gens: Sequence[GenerationLags], target: Target, params: Params, name: str | None) -> Window:
    """`basis: auto`: the backtest's pick among the bases that can predict this target."""
    usable, errors = {}, []
    for basis in BASES:
        try:
            usable[basis] = predict(basis, gens, target, params, name)
        except CadenceError as exc:
            errors.append(str(exc))
    if not usable:
        raise CadenceError(f"cadence {name or '?'}: no basis can predict this watch ({'; '.join(errors)})")
    test = backtest(gens, params)
    basis, reason = choose(test.scores, list(usable))
    return _tracked(usable[basis], test.scores[basis], reason)


def _steps_to(end: dt.date, step: int, day: dt.date) -> int:
    """How many more steps of `step` days it takes for a window ending on `end` to reach `day` (0: it does)."""
    return 0 if end >= day or step <= 0 else math.ceil((day - end).days / step)


def past_flagship(win: Window, day: dt.date, flagship: str, params: Params, name: str | None) -> Window:
    """A window counted from earlier open weights that closed before the watch's flagship is moved on by whole steps.

    Such a window says the next generation's weights were due before its flagship was even announced:
    the lab skipped a generation's weights (Qwen3.7 had none; a qwen3.8 watch counted from Qwen3.6 got
    Qwen3.7's window). Read literally, the watch would be overdue the day it starts. So each variant (or,
    on the previous_open_weights basis, the generation) is expected one more step of its own cadence
    (its most likely interval) later, as often as needed, and the reason says so.
    """
    if win.source != "cadence" or win.end >= day or win.basis not in (PREVIOUS, PER_VARIANT):
        return win
    why = (f"the history's next window ({win.start} to {win.end}) closed before {flagship} ({day}): "
           f"counted as skipped, expected")
    if win.basis == PREVIOUS:
        n = _steps_to(win.end, win.lag_median, day)
        if not n:
            return win
        days = n * win.lag_median
        shift = dt.timedelta(days=days)
        return replace(win, start=win.start + shift, end=win.end + shift, median=win.median + shift,
                       lag_min=win.lag_min + days, lag_max=win.lag_max + days, lag_median=win.lag_median + days,
                       reason="; ".join(t for t in (win.reason, f"{why} {n} more step(s) of {win.lag_median} days "
                                                                 "later") if t))
    moved = []
    for v in win.variants:
        step = (v.median - v.anchor).days
        n = _steps_to(v.end, step, day)
        shift = dt.timedelta(days=n * step)
        moved.append(replace(v, start=v.start + shift, end=v.end + shift, median=v.median + shift, skipped=n))
    if not any(v.skipped for v in moved):
        return win
    note = f"{why} one or more steps of each variant's own interval later"
    rolled = combine(moved, [v.key for v in moved], params, name, "; ".join(t for t in (win.reason, note) if t))
    return replace(rolled, track=win.track)


def with_track(win: Window, gens: Sequence[GenerationLags], params: Params) -> Window:
    score = backtest(gens, params, (win.basis,)).scores[win.basis]
    return _tracked(win, score, win.reason)


def _tracked(win: Window, score: Score, reason: str) -> Window:
    track = (score.held, score.predicted) if score.predicted else None
    joined = "; ".join(t for t in (reason, win.reason) if t) if reason != win.reason else reason
    return replace(win, reason=joined, track=track)


__all__ = ["AUTO", "Backtest", "Params", "Target", "VariantWindow", "auto_window", "backtest", "per_variant_window"]
