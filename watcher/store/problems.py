"""A database error in the user's words: SQLite's first line plus what it usually means.

SQLite reports a full disk as `database or disk is full`, a file-size limit or a failing disk as
`disk I/O error`, and another writer as `database is locked`; the bare words do not say what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

HINTS = {
    "database is locked": "another process holds the write lock; retried next cycle",
    "database or disk is full": "free some disk space; nothing is lost meanwhile",
    "disk i/o error": "the disk is full, failing or over a file-size limit; nothing is lost meanwhile",
    "readonly database": "the file or its directory is read-only for this user",
    "unable to open database file": "the file or its directory is missing or not writable",
}


def describe(exc: BaseException, sqlite_file: Path | None = None) -> str:
    """One line: the driver's message (first line, no SQL, no parameters) and a hint when we know one.

    With the SQLite file's path, a "read-only" error names the file that blocks (SQLite only names the
    database, though a leftover read-only `-shm` from another user's run is the usual cause)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    lowered = line.lower()
    if sqlite_file is not None and ("readonly" in lowered or "unable to open" in lowered):
        if blocker := sqlite_blocker(sqlite_file):
            return f"{line} ({blocker})"
    hint = next((h for key, h in HINTS.items() if key in lowered), None)
    return f"{line} ({hint})" if hint and hint not in line else line


def sqlite_blocker(db_file: Path) -> str | None:
    """The file or directory that keeps an SQLite database from being written, named; None if none does."""
    for path in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
        if path.exists() and (not path.is_file() or not os.access(path, os.W_OK)):
            return f"{path} is not a writable file: left over from another user's or a read-only run? remove it"
    if db_file.parent.exists() and not os.access(db_file.parent, os.W_OK):
        return f"the directory {db_file.parent} is not writable"
    return None
