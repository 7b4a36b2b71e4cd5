"""Previous snapshot + new snapshot -> events. Pure functions: no I/O, no clock, no database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from watcher.models import Event, EventKind, RepoSnapshot, SourceReport


@dataclass
class Detection:
    """The merged view after one cycle: what to store and what to announce."""

    snapshots: dict[str, RepoSnapshot]
    events: list[Event] = field(default_factory=list)
    baselined_scopes: set[str] = field(default_factory=set)


def merge_observed(reports: Iterable[SourceReport]) -> tuple[dict[str, RepoSnapshot], set[str]]:
    """Combine the sources' reports; a later observation of the same repo replaces an earlier one."""
    observed: dict[str, RepoSnapshot] = {}
    complete: set[str] = set()
    for report in reports:
        complete |= report.complete_scopes
        for snap in report.repos:
            observed[snap.key] = snap
    return observed, complete


def detect(
    watch: str,
    previous: dict[str, RepoSnapshot],
    reports: Iterable[SourceReport],
    baselined_scopes: set[str],
) -> Detection:
    """Compare what was known with what the sources saw now.

    A repo's first sighting through a scope never polled before is the baseline: stored silently, so a
    new watch (or a newly added author) does not announce everything that already exists.
    """
    observed, complete = merge_observed(reports)
    previous = {snap.key: snap for snap in previous.values()}  # keyed by identity, whatever the caller used
    current = dict(previous)
    events: list[Event] = []
    for key, prev in previous.items():
        if key not in observed and prev.visible and prev.scope in complete:
            # Missing from a listing that succeeded: deleted or made private.
            current[key] = dataclasses.replace(prev, visible=False, status=None)
    for key, snap in observed.items():
        prev = previous.get(key)
        current[key] = snap
        if prev is None and snap.scope not in baselined_scopes:
            continue
        events.extend(repo_events(watch, prev, snap))
    for key, snap in current.items():
        prev = previous.get(key)
        if key not in observed and prev is not None and prev.visible and not snap.visible:
            events.extend(repo_events(watch, prev, snap))
    if not baselined_scopes and complete:
        events.insert(0, watch_started(watch, current.values()))
    return Detection(current, events, baselined_scopes | complete)


def repo_events(watch: str, prev: RepoSnapshot | None, cur: RepoSnapshot) -> list[Event]:
    """The events one repo's change of state means, each with a key that makes it happen once."""
    was_visible = prev is not None and prev.visible
    events: list[Event] = []

    def add(kind: EventKind, key_suffix: str, **data) -> None:
        events.append(
            Event(watch, kind, f"{kind.value}:{cur.label}{key_suffix}", cur.source, cur.repo_id, data)
        )

    if cur.visible and not was_visible:
        add(
            EventKind.REPO_APPEARED,
            f":{cur.sha or cur.created_at or ''}",
            was_hidden_status=prev.status if prev is not None else None,
            **describe(cur),
        )
    if cur.has_weights and not (prev is not None and prev.has_weights):
        add(EventKind.WEIGHTS_PUBLISHED, "", **describe(cur))
    if was_visible and not cur.visible:
        assert prev is not None
        add(EventKind.REPO_HIDDEN, f":{prev.sha or prev.last_modified or ''}", status=cur.status, url=cur.url)
    if was_visible and cur.visible:
        assert prev is not None
        if (prev.gated or None) != (cur.gated or None):
            add(
                EventKind.GATING_CHANGED,
                f":{cur.gated or 'open'}:{cur.sha or ''}",
                before=prev.gated,
                after=cur.gated,
                url=cur.url,
            )
        events.extend(_new_releases(watch, prev, cur))
    return events


def _new_releases(watch: str, prev: RepoSnapshot, cur: RepoSnapshot) -> list[Event]:
    out = []
    for kind, before, after in (("release", prev.releases, cur.releases), ("tag", prev.tags, cur.tags)):
        known = set(before)
        for name in after:
            if name in known:
                continue
            if kind == "tag" and name in cur.releases:
                continue  # a release's own tag is announced once, as the release
            out.append(
                Event(
                    watch,
                    EventKind.RELEASE_PUBLISHED,
                    f"release_published:{cur.label}:{name}",
                    cur.source,
                    cur.repo_id,
                    {"tag": name, "type": kind, "url": cur.url},
                )
            )
    return out


def describe(snap: RepoSnapshot) -> dict:
    """The facts an alert shows about a repo."""
    return {
        "url": snap.url,
        "weights": snap.has_weights,
        "weight_files": snap.weight_count or len(snap.weight_files),
        "weight_bytes": snap.weight_bytes,
        "params": snap.params,
        "gated": snap.gated,
        "latest_release": (snap.releases or snap.tags or (None,))[0],
    }


def watch_started(watch: str, snapshots: Iterable[RepoSnapshot]) -> Event:
    """One summary instead of an alert per repo that already existed when the watch began."""
    visible = sorted((s for s in snapshots if s.visible), key=lambda s: s.key)
    return Event(
        watch,
        EventKind.WATCH_STARTED,
        "watch_started",
        data={
            "visible": [{"source": s.source, "repo_id": s.repo_id, **describe(s)} for s in visible],
            "hidden": sorted(s.repo_id for s in snapshots if not s.visible),
        },
    )
