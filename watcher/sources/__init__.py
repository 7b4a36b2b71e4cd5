"""Sources turn one API into plain RepoSnapshots. Adding a source: one file and one line in SOURCES."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Protocol

from watcher.config import Config, Watch
from watcher.models import RepoSnapshot, SourceReport


class Source(Protocol):
    name: str

    def poll(self, watch: Watch, previous: dict[str, RepoSnapshot]) -> SourceReport:
        """Observe one watch; never raise for API trouble, report it in SourceReport.errors."""

    def close(self) -> None: ...


class SourceError(Exception):
    """An API failure already phrased with its source and URL or repo, never with a token."""


def name_matches(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """fnmatch on the repo name (without owner), case-insensitive, include then exclude."""
    lowered = name.lower()
    if not any(fnmatch.fnmatchcase(lowered, p.lower()) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(lowered, p.lower()) for p in exclude)


def _build_hf(config: Config, state=None) -> Source:
    """`state` (polling.SourceState): the HTTP cache and rate-limit budget loaded from the database."""
    from watcher.sources.hf import HubSource

    return HubSource(config.huggingface, cache=getattr(state, "cache", None), budget=getattr(state, "budget", None),
                     watches=config.watches)


def _build_github(config: Config, state=None) -> Source:
    from watcher.sources.github import GitHubSource

    return GitHubSource(config.github, cache=getattr(state, "cache", None), budget=getattr(state, "budget", None),
                        cycles_per_hour=github_cycles_per_hour(config))


def github_cycles_per_hour(config: Config) -> float:
    """How many scheduled cycles an hour poll GitHub: the shared job, plus each watch with its own interval
    (the daemon's poll groups)."""
    users = [w for w in config.watches if w.github is not None]
    own = [w.poll_interval for w in users if w.poll_interval]
    shared = [config.schedule.poll_interval] if any(not w.poll_interval for w in users) else []
    return sum(3600 / every.total_seconds() for every in shared + own)


SOURCES: dict[str, Callable[..., Source]] = {
    "huggingface": _build_hf,
    "github": _build_github,
}
