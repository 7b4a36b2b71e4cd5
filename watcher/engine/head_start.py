"""`watcher poll` on a plain SQLite file sends its first requests before SQLAlchemy is imported.

Why: a quiet poll process spent a third of its life importing SQLAlchemy and opening the store before
its first request, and then waited on the network anyway. So it takes the cycle lock first (the same
file every cycle and migration locks), reads what the sources need through sqlite3 (validators and
rate-limit budgets; the stored repos on a thread of their own), starts fetching, and the rest of the
cycle (SQLAlchemy, the store, what earlier cycles observed) loads meanwhile. It is the same cycle in the
same lock, only overlapped: concurrent polls still take turns, and each fetches only after the last one
has stored. `start` returns None for anything else (PostgreSQL, URL options, a file that is missing or
at another schema revision) and the caller polls as before.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Callable

from watcher.config import Config
from watcher.engine import polling
from watcher.models import SourceReport
from watcher.sources import SOURCES, Source
from watcher.store import cycle_reads, lite
from watcher.store.cycle_reads import StoredRepo
from watcher.store.locks import cycle_lock_path, file_lock


class HeadStart:
    """One poll cycle's fetch, running under the cycle lock this object holds until `close`."""

    def __init__(self, config: Config, lock: contextlib.ExitStack, started: tuple[dt.datetime, float],
                 states: dict[str, polling.SourceState], stored: polling.StoredRepos,
                 sources: dict[str, Source]) -> None:
        self.started, self.tick = started  # the cycle began when it held the lock, as pipeline.poll_cycle counts it
        self.states, self._stored, self._lock = states, stored, lock
        self._reports: dict[str, list[SourceReport]] = {}
        self._error: BaseException | None = None
        watches = config.watches
        previous = {w.name: stored.previous(w.name) for w in watches}
        self._thread = threading.Thread(target=self._fetch, args=(watches, sources, previous,
                                                                  polling.watch_workers(config)),
                                        name="head-start", daemon=True)
        self._thread.start()
        stored.start()  # decoded while the first requests are out

    def _fetch(self, watches, sources: dict[str, Source], previous, workers: int) -> None:
        try:
            self._reports = polling.fetch_all(watches, sources, previous, workers=workers)
        except BaseException as exc:  # noqa: BLE001 - raised again by finish(), in the cycle's thread
            self._error = exc
        finally:
            for source in sources.values():
                source.close()

    def finish(self) -> tuple[dict[str, list[SourceReport]], dict[str, dict[str, StoredRepo]]]:
        """The reports and the stored repos, as pipeline.fetch_watches returns them."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._reports, self._stored.result()

    def close(self) -> None:
        """Release the cycle lock: after the cycle stored and delivered, or when it failed (nothing of this
        fetch is stored then: the next cycle asks again)."""
        self._lock.close()


def start(config: Config, clock: Callable[[], dt.datetime]) -> HeadStart | None:
    """Take the cycle lock and start fetching; None (holding nothing) when this database is not a plain SQLite
    file at this release's schema. Raises LockFileError when the lock file cannot be opened."""
    path = lite.sqlite_path(config.database)
    if path is None or "%" in path or not os.path.isfile(path):  # '%': SQLAlchemy might decode the path otherwise
        return None
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(file_lock(cycle_lock_path(path), wait=True))
        started = clock(), time.monotonic()
        states = _states(path)
        if states is None:
            stack.close()
            return None
        names = [w.name for w in config.watches]
        stored = polling.StoredRepos(lambda: cycle_reads.lite_stored_repos(path, names))
        sources = polling.build_sources(config, config.watches, states)
        return HeadStart(config, stack, started, states, stored, sources)
    except BaseException:
        stack.close()
        raise


def _states(path: str) -> dict[str, polling.SourceState] | None:
    conn = cycle_reads.open_lite(path)
    if conn is None:
        return None
    try:
        return polling.states_of(list(SOURCES), cycle_reads.lite_budgets(conn),
                                 lambda name: cycle_reads.lite_validators(conn, name))
    except (sqlite3.Error, ValueError, TypeError):  # not readable the same way: SQLAlchemy's path says what is wrong
        return None
    finally:
        conn.close()
