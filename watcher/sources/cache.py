"""Validators (ETag / Last-Modified) and the parsed answer they stand for, per endpoint.

Why: a 304 only says "what you saw last time is still true", so the cache must hand back exactly what
was seen last time. We keep a parsed summary, not raw bytes (smaller, and nothing to parse on a 304).
The pipeline loads the entries from the database before a cycle and saves the changed ones in the
cycle's transaction, so a cycle that fails to store its snapshots also forgets its validators and the
next cycle asks again: a 304 can never stand for a change we did not record.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from watcher.sources.sanitize import MAX_DATE_HEADER, json_safe, validator


@dataclass(frozen=True)
class CacheEntry:
    etag: str | None
    last_modified: str | None
    body: Any

    def headers(self) -> dict[str, str]:
        """The conditional headers that ask "has this changed since?"."""
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


class HttpCache:
    """Entries of one source, keyed by URL (or URL + watch for per-watch cursors); thread-safe."""

    def __init__(self, entries: dict[str, CacheEntry] | None = None) -> None:
        self._entries = dict(entries or {})
        self._changed: dict[str, CacheEntry] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> CacheEntry | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, entry: CacheEntry) -> None:
        """Validators the server sent that no database column holds (or no server wants back) are dropped."""
        entry = CacheEntry(validator(entry.etag), validator(entry.last_modified, MAX_DATE_HEADER),
                           json_safe(entry.body))
        with self._lock:
            if self._entries.get(key) != entry:
                self._entries[key] = entry
                self._changed[key] = entry

    def changed(self) -> dict[str, CacheEntry]:
        """What this cycle learnt, for the pipeline to save."""
        with self._lock:
            return dict(self._changed)

    def __len__(self) -> int:
        return len(self._entries)
