"""Cadence alerts: window opened, overdue, reminders while overdue, released. Pure: the past comes as data.

Timing is derived from the events already stored (their `created_at`), never from process memory, so a
restart can neither forget a reminder nor send the next one early.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from watcher.config import Watch
from watcher.forecast import cadence
from watcher.forecast import variant_state as vs
from watcher.forecast import variants as vmod
from watcher.models import Event, EventKind, Source, WatchState

# The kinds whose history the rules below need.
HISTORY_KINDS = (EventKind.WATCH_STARTED, EventKind.WINDOW_OPENED, EventKind.OVERDUE, EventKind.REMINDER, EventKind.RELEASED,
                 EventKind.WEIGHTS_PUBLISHED, EventKind.VARIANT_RELEASED)


@dataclass(frozen=True)
class Past:
    """An event already in the table."""

    kind: str
    dedup_key: str
    created_at: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)


def cadence_events(watch: Watch, win: cadence.Window, now: dt.datetime, released: bool,
                   past: Sequence[Past], new: Sequence[Event], landings: Sequence[vs.Landing] | None = None) -> list[Event]:
    """The cadence events this cycle adds, given what was sent before and this cycle's other events.

    `landings` are the watch's repos with weights (pipeline.landings); without them only this cycle's
    weights_published events count, dated today.
    """
    if landings is None:
        landings = [vs.Landing(e.repo_id, now.date(), e.data.get("url")) for e in new
                    if e.kind is EventKind.WEIGHTS_PUBLISHED and e.repo_id]
    at_start = _baseline_weights(past, new)
    out = [] if at_start is not None else _released(watch, win, now.date(), past, landings)
    out += _variants_released(watch, win, past, out, landings, at_start or set())
    ever_released = released or bool(out) or any(p.kind == EventKind.RELEASED.value for p in past)
    pos = win.position(now.date(), ever_released)
    if pos.state is WatchState.IN_WINDOW and watch.notify.window_opened and not _started_inside(win, past, new):
        out.append(_event(watch, EventKind.WINDOW_OPENED, f"window_opened:{win.start}:{win.end}", win,
                          summary=f"the window is open: expected {win.start} to {win.end} ({win.describe()}), "
                                  f"most likely around {win.median}; {win.source_label}"))
    if pos.state is WatchState.OVERDUE:
        late = vs.states(watch, win, landings, now.date(), True)
        out.extend(_overdue(watch, win, now, pos.days_overdue or 0, past, late))
    return out


def _started_inside(win: cadence.Window, past: Sequence[Past], new: Sequence[Event]) -> bool:
    """A watch first polled inside its window did not see it open: its "watching started" says so instead."""
    if any(e.kind is EventKind.WATCH_STARTED for e in new):
        return True
    started = [p.created_at.date() for p in past if p.kind == EventKind.WATCH_STARTED.value]
    return bool(started) and min(started) >= win.start


def _overdue(watch: Watch, win: cadence.Window, now: dt.datetime, late: int, past: Sequence[Past],
             variant_states: Sequence[vs.VariantState] = ()) -> list[Event]:
    """Once when the window closes, then one reminder per `remind_every` at most, counted from the last one."""
    first_key = f"overdue:{win.end.isoformat()}"
    expected = f"expected {win.start} to {win.end} ({win.describe()})"
    names = vs.late(variant_states, now.date())
    if names:
        expected += f"; late: {names}"
    if win.track_clause:
        expected += f"; {win.track_clause}"
    late_variants = [s.label for s in variant_states if s.state == WatchState.OVERDUE.value]
    sent = [p for p in past if p.dedup_key == first_key]
    if not sent:
        return [_event(watch, EventKind.OVERDUE, first_key, win, days_overdue=late, late_variants=late_variants,
                       summary=f"{expected}; {late} day(s) late, no open weights yet")]
    every = watch.notify.remind_every
    reminders = [p for p in past if p.dedup_key.startswith(f"reminder:{win.end.isoformat()}:")]
    last = max(p.created_at for p in sent + reminders)
    if not every or now - last < every:
        return []
    number = len(reminders) + 1
    return [_event(watch, EventKind.REMINDER, f"reminder:{win.end.isoformat()}:{number}", win,
                   days_overdue=late, reminder=number, late_variants=late_variants,
                   summary=f"still no open weights, {late} day(s) late; {expected}; reminder {number}, "
                           f"next in {_every(every)} if nothing lands")]


def _released(watch: Watch, win: cadence.Window, today: dt.date, past: Sequence[Past],
              landings: Sequence[vs.Landing]) -> list[Event]:
    """Once per watch: the first variant that landed (its main repo, not a -FP8 copy) against the window.

    Weights already there when the watch started count too, dated by the repo's createdAt, so a later
    repo is never announced as "the release" with a lag that ignores them.
    """
    done = {EventKind.RELEASED.value, EventKind.WEIGHTS_PUBLISHED.value}
    if any(p.kind in done for p in past) or not landings:
        return []
    first_day = min(item.day for item in landings)
    label, first = _smallest(watch, win, landings, first_day)
    text = cadence.landed(watch, win, first.day)
    variant = _variant_words(watch, win, label, first.day)
    dated = f" (dated by the repo's createdAt {first.day})" if first.dated_by == "createdAt" else ""
    # About the same repo as its weights_published, so Slack threads both together (notify/threads.py).
    return [Event(watch.name, EventKind.RELEASED, "released", Source.HUGGINGFACE.value, first.repo, data={
        "released_on": first.day.isoformat(), "lag_days": (first.day - watch.flagship.released).days,
        "window_start": win.start.isoformat(), "window_end": win.end.isoformat(), "url": first.url,
        "variant": label, "dated_by": first.dated_by,
        "summary": f"{first.repo} {text}{dated}{variant}; expected {win.start} to {win.end}, {win.source_label}",
    })]


def _baseline_weights(past: Sequence[Past], new: Sequence[Event]) -> set[str] | None:
    """Variants with weights when the watch started (None: there were none). They are the release: the
    baseline stays silent, and no later repo is announced as "released" with a lag that ignores them."""
    started = [p.data for p in past if p.kind == EventKind.WATCH_STARTED.value]
    started += [e.data for e in new if e.kind is EventKind.WATCH_STARTED]
    keys = {vmod.variant_of(str(item.get("repo_id") or "")).key for data in started for item in data.get("visible") or []
            if item.get("weights") and item.get("source") == Source.HUGGINGFACE}
    return keys or None


def _smallest(watch: Watch, win: cadence.Window, landings: Sequence[vs.Landing], day: dt.date) -> tuple[str, vs.Landing]:
    """Several variants on the first day: name an expected one before the others, the smallest first, for a
    stable line (a same-day variant nobody listed is not what the watch was waiting for)."""
    firsts = vs.first_by_variant(i for i in landings if i.day == day)
    expected = {label.lower() for label, _ in vs.expected_variants(watch, win)}
    key = min(firsts, key=lambda k: (k not in expected, vmod.size_order(firsts[k][0])))
    return firsts[key]


def _variant_words(watch: Watch, win: cadence.Window, label: str, day: dt.date) -> str:
    """', variant 27B: 2 days after its most likely date (2026-06-18), inside its window' for watches that expect
    variants; a variant without its own forecast is measured against the watch's window."""
    expected = {name.lower(): (name, f) for name, f in vs.expected_variants(watch, win)}
    if not expected:
        return ""
    if label.lower() not in expected:
        return f", variant {label} (not one of the expected {', '.join(n for n, _ in expected.values())})"
    forecast = expected[label.lower()][1]
    start, end, median = (forecast.start, forecast.end, forecast.median) if forecast else (win.start, win.end, win.median)
    whose = "its" if forecast else "the watch's"
    where = "" if not forecast else ", inside its window" if start <= day <= end else \
        f", outside its window {start} to {end}"  # the watch's own window is already in the line
    return f", variant {label}: {cadence.lag_phrase((day - median).days, whose + ' most likely date')} ({median}){where}"


def _announced(past: Sequence[Past]) -> set[str]:
    keys = set()
    for p in past:
        if p.kind in (EventKind.RELEASED.value, EventKind.VARIANT_RELEASED.value):
            label = p.data.get("variant") or (vmod.variant_of(p.data.get("repo") or "").label if p.data.get("repo") else "")
            keys.add(str(label).lower())
    return keys


def _variants_released(watch: Watch, win: cadence.Window, past: Sequence[Past], now: list[Event],
                       landings: Sequence[vs.Landing], at_start: set[str]) -> list[Event]:
    """Each later variant's first weights: one line each in the watch's thread (watches that expect variants)."""
    released = now or at_start or any(p.kind == EventKind.RELEASED.value for p in past)
    if not vs.expected_variants(watch, win) or not released:
        return []
    done = _announced(past) | at_start | {str(e.data.get("variant", "")).lower() for e in now}
    out = []
    for key, (label, item) in sorted(vs.first_by_variant(landings).items(), key=lambda kv: vmod.size_order(kv[1][0])):
        if key in done:
            continue
        words = _variant_words(watch, win, label, item.day).removeprefix(", ")
        dated = " (createdAt)" if item.dated_by == "createdAt" else ""
        out.append(Event(watch.name, EventKind.VARIANT_RELEASED, f"variant_released:{key}", data={
            "variant": label, "repo": item.repo, "released_on": item.day.isoformat(), "url": item.url,
            "dated_by": item.dated_by,
            "summary": f"{item.repo} landed {item.day}{dated}, "
                       f"{cadence.lag_phrase((item.day - watch.flagship.released).days, watch.flagship.name)}; {words}",
        }))
    return out


def _event(watch: Watch, kind: EventKind, key: str, win: cadence.Window, **data: Any) -> Event:
    data = {"window_start": win.start.isoformat(), "window_end": win.end.isoformat(),
            "median": win.median.isoformat(), "basis": win.basis, "window_source": win.source_label, **data}
    return Event(watch.name, kind, key, data=data)


def _every(every: dt.timedelta) -> str:
    if every.total_seconds() % 86400 == 0:
        days = int(every.total_seconds() // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    return str(every)
