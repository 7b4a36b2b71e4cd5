"""Which Slack posts one delivery makes: new things top-level, follow-ups in their announcement's thread.

A follow-up (weights landing for an announced repo, a reminder after the first overdue alert) is a
reply under the message that announced its subject, broadcast to the channel unless it is a quiet
kind, and that parent is edited in place to show the current state. New things (a new repo, a
visibility flip, the watching-started summary) always start a new top-level message. Kinds this module
does not know are handled by the same rule, so a new event kind needs no change here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from watcher.notify import blocks as bk
from watcher.notify.render import Item, Message, build_message, subject_of

TOP_LEVEL = {"watch_started", "repo_appeared", "repo_hidden"}  # always their own message
QUIET = {"gating_changed", "reminder"}  # thread only; every other follow-up is also shown in the channel


@dataclass
class Parent:
    """A posted top-level message that follow-ups thread under."""

    id: int
    channel: str
    ts: str
    content: dict[str, Any]


@dataclass
class Post:
    key: str  # unique within a delivery: what a retry skips once done
    part: bk.Part
    thread_ts: str | None = None
    broadcast: bool = False


@dataclass
class Edit:
    key: str
    parent: Parent
    statuses: dict[str, str] = field(default_factory=dict)  # subject -> current state


def status_text(item: Item) -> str:
    return f"{item.label} ({item.details})" if item.details else item.label


def plan(message: Message, parent_of: Callable[[str], Parent | None] | None) -> tuple[list[Post], list[Edit]]:
    """Split a watch's events from one cycle into top-level posts, thread replies and parent edits."""
    if parent_of is None:
        return _posts("top", message, message.events), []
    forced = {subject_of(e) for e in message.events if e["kind"] in TOP_LEVEL}
    top: list[dict] = []
    replies: dict[int, tuple[Parent, list[dict]]] = {}
    for event in message.events:
        subject = subject_of(event)
        parent = parent_of(subject) if subject else None
        if parent is None or event["kind"] in TOP_LEVEL or subject in forced:
            top.append(event)
        else:
            replies.setdefault(parent.id, (parent, []))[1].append(event)
    posts = _posts("top", message, top)
    for parent, events in replies.values():
        broadcast = any(e["kind"] not in QUIET for e in events)
        for post in _posts(f"reply:{parent.id}", message, events):
            post.thread_ts, post.broadcast = parent.ts, broadcast
            posts.append(post)
    return posts, _edits(message, parent_of)


def _posts(prefix: str, message: Message, events: list[dict]) -> list[Post]:
    if not events:
        return []
    sub = build_message(message.watch, message.title, events, message.context)
    parts = bk.split(sub.headline, sub.items, sub.context)
    return [Post(f"{prefix}:{p.index}/{p.count}", p) for p in parts]


def _edits(message: Message, parent_of: Callable[[str], Parent | None]) -> list[Edit]:
    """Every announced subject this cycle touched gets its announcement updated with the new state."""
    edits: dict[int, Edit] = {}
    for item in message.items:
        parent = parent_of(item.subject) if item.subject else None
        if parent is not None:
            edits.setdefault(parent.id, Edit(f"edit:{parent.id}", parent)).statuses[item.subject] = status_text(item)
    released = [i for i in message.items if i.kind == "weights_published" and i.repo]
    overdue = parent_of("overdue") if released else None
    if overdue is not None:
        edit = edits.setdefault(overdue.id, Edit(f"edit:{overdue.id}", overdue))
        edit.statuses.setdefault("overdue", f"resolved: weights published ({released[0].repo})")
    return list(edits.values())


def apply(edit: Edit) -> bk.Part | None:
    """The parent re-rendered with the new states; None when nothing it shows changed."""
    part = bk.from_content(copy.deepcopy(edit.parent.content))
    changed = False
    for item in part.items:
        status = edit.statuses.get(item.subject or "")
        if status is None or item.status == status:
            continue
        if item.subject == "overdue" and item.status.startswith("resolved") and not status.startswith("resolved"):
            continue  # once released, a late reminder does not make the alert look open again
        item.status, changed = status, True
    return part if changed else None


def execute(notifier, message: Message, ledger) -> str | None:
    """Send what `plan` says, skipping what an earlier attempt of this delivery already sent."""
    posts, edits = plan(message, ledger.parent if notifier.threads else None)
    first: str | None = None
    for post in posts:
        done = ledger.sent(post.key)
        if done is not None:
            first = first or done
            continue
        found = _already_posted(notifier, ledger, post)
        if found is not None:
            channel, ts = found
        else:
            channel, ts = notifier.post(post.part, post.thread_ts, post.broadcast, key=ledger.key(post.key))
        ledger.record(post.key, channel, ts, post.thread_ts, None if post.thread_ts else post.part)
        first = first or ts
    for edit in edits:
        if ledger.sent(edit.key) is not None:
            continue
        part = apply(edit)
        if part is not None and notifier.update(edit.parent.channel, edit.parent.ts, part):
            ledger.save_content(edit.parent.id, bk.to_content(part))
        ledger.record(edit.key, edit.parent.channel, edit.parent.ts, edit.parent.ts, None)
    return first


def _already_posted(notifier, ledger, post: Post) -> tuple[str, str] | None:
    return already_posted(notifier, ledger, post.key, post.thread_ts)


def already_posted(notifier, ledger, part: str, thread_ts: str | None) -> tuple[str, str] | None:
    """After an attempt that may have reached Slack (a timeout, a 5xx, a crash), look before posting again."""
    if not (notifier.threads and ledger.retrying):
        return None
    channel = ledger.channel_id() or notifier.lookup_channel()
    if not channel:
        return None
    ts = notifier.find(ledger.key(part), channel, ledger.since(), thread_ts)
    return (channel, ts) if ts else None
