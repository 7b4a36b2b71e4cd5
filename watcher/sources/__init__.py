"""Sources turn one API into plain RepoSnapshots. Adding a source: one file (importing `base`) and one line in
SOURCES."""

from __future__ import annotations

from collections.abc import Callable

from watcher.config import Config
from watcher.models import Source as SourceName
from watcher.sources.base import Source, SourceError, name_matches

__all__ = ["SOURCES", "Source", "SourceError", "github_cycles_per_hour", "name_matches"]


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
    SourceName.HUGGINGFACE.value: _build_hf,
    SourceName.GITHUB.value: _build_github,
}
