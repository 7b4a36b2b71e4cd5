"""Cadence alerts: window opened, overdue, reminders while overdue, released. Pure: the past comes as data.

Timing is derived from the events already stored (their `created_at`), never from process memory, so a
restart can neither forget a reminder nor send the next one early.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from watcher import cadence
from watcher.config import Watch
from watcher.models import Event, EventKind, WatchState

# The kinds whose history the rules below need.
HISTORY_KINDS = (EventKind.WATCH_STARTED, EventKind.WINDOW_OPENED, EventKind.OVERDUE, EventKind.REMINDER, EventKind.RELEASED,
                 EventKind.WEIGHTS_PUBLISHED)


@dataclass(frozen=True)
class Past:
    """An event already in the table."""

    kind: str
    dedup_key: str
    created_at: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)


def cadence_events(watch: Watch, win: cadence.Window, now: dt.datetime, released: bool,
                   past: Sequence[Past], new: Sequence[Event]) -> list[Event]:
    """The cadence events this cycle adds, given what was sent before and this cycle's other events."""
    out = _released(watch, win, now.date(), past, new)
    ever_released = released or bool(out) or any(p.kind == EventKind.RELEASED.value for p in past)
    pos = win.position(now.date(), ever_released)
    if pos.state is WatchState.IN_WINDOW and watch.notify.window_opened and not _started_inside(win, past, new):
        out.append(_event(watch, EventKind.WINDOW_OPENED, f"window_opened:{win.start}:{win.end}", win,
                          summary=f"the window is open: expected {win.start} to {win.end} ({win.describe()}), "
                                  f"most likely around {win.median}; {win.source_label}"))
    if pos.state is WatchState.OVERDUE:
        out.extend(_overdue(watch, win, now, pos.days_overdue or 0, past))
    return out


def _started_inside(win: cadence.Window, past: Sequence[Past], new: Sequence[Event]) -> bool:
    """A watch first polled inside its window did not see it open: its "watching started" says so instead."""
    if any(e.kind is EventKind.WATCH_STARTED for e in new):
        return True
    started = [p.created_at.date() for p in past if p.kind == EventKind.WATCH_STARTED.value]
    return bool(started) and min(started) >= win.start


def _overdue(watch: Watch, win: cadence.Window, now: dt.datetime, late: int, past: Sequence[Past]) -> list[Event]:
    """Once when the window closes, then one reminder per `remind_every` at most, counted from the last one."""
    first_key = f"overdue:{win.end.isoformat()}"
    expected = f"expected {win.start} to {win.end} ({win.describe()})"
    sent = [p for p in past if p.dedup_key == first_key]
    if not sent:
        return [_event(watch, EventKind.OVERDUE, first_key, win, days_overdue=late,
                       summary=f"{expected}; {late} day(s) late, no open weights yet")]
    every = watch.notify.remind_every
    reminders = [p for p in past if p.dedup_key.startswith(f"reminder:{win.end.isoformat()}:")]
    last = max(p.created_at for p in sent + reminders)
    if not every or now - last < every:
        return []
    number = len(reminders) + 1
    return [_event(watch, EventKind.REMINDER, f"reminder:{win.end.isoformat()}:{number}", win,
                   days_overdue=late, reminder=number,
                   summary=f"still no open weights, {late} day(s) late; {expected}; reminder {number}, "
                           f"next in {_every(every)} if nothing lands")]


def _released(watch: Watch, win: cadence.Window, today: dt.date, past: Sequence[Past],
              new: Sequence[Event]) -> list[Event]:
    """The watch's first weights_published closes the loop: how the actual lag compared with the window."""
    done = {EventKind.RELEASED.value, EventKind.WEIGHTS_PUBLISHED.value}
    if any(p.kind in done for p in past):
        return []
    first = next((e for e in new if e.kind is EventKind.WEIGHTS_PUBLISHED), None)
    if first is None:
        return []
    text = cadence.landed(watch, win, today)
    # About the same repo as its weights_published, so Slack threads both together (notify/threads.py).
    return [Event(watch.name, EventKind.RELEASED, "released", first.source, first.repo_id, data={
        "released_on": today.isoformat(), "lag_days": (today - watch.flagship.released).days,
        "window_start": win.start.isoformat(), "window_end": win.end.isoformat(), "url": first.data.get("url"),
        "summary": f"{first.repo_id} {text}; expected {win.start} to {win.end}, {win.source_label}",
    })]


def _event(watch: Watch, kind: EventKind, key: str, win: cadence.Window, **data: Any) -> Event:
    data = {"window_start": win.start.isoformat(), "window_end": win.end.isoformat(),
            "median": win.median.isoformat(), "basis": win.basis, "window_source": win.source_label, **data}
    return Event(watch.name, kind, key, data=data)


def _every(every: dt.timedelta) -> str:
    if every.total_seconds() % 86400 == 0:
        days = int(every.total_seconds() // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    return str(every)
