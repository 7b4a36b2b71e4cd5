"""What every source shares: the protocol, its error and the name filter; implementations import this.

The registry (`SOURCES` in the package) imports the implementations, so they must not import it back.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Protocol

from watcher.config import Watch
from watcher.models import Reason, RepoSnapshot, SourceReport


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


def reason_for_status(status: int | None) -> Reason:
    """The HTTP status an API gave up with, as a problem's reason (both sources' APIs use them alike)."""
    if status in (401, 403):
        return Reason.AUTH
    if status == 404:
        return Reason.NOT_FOUND
    if status == 408:
        return Reason.TIMEOUT
    if status == 429:
        return Reason.RATE_LIMITED
    if status is not None and status >= 500:
        return Reason.SERVER
    return Reason.OTHER
