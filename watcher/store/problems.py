"""A database error in the user's words: SQLite's first line plus what it usually means.

SQLite reports a full disk as `database or disk is full`, a file-size limit or a failing disk as
`disk I/O error`, and another writer as `database is locked`; the bare words do not say what to do.
"""

from __future__ import annotations

HINTS = {
    "database is locked": "another process holds the write lock; retried next cycle",
    "database or disk is full": "free some disk space; nothing is lost meanwhile",
    "disk i/o error": "the disk is full, failing or over a file-size limit; nothing is lost meanwhile",
    "readonly database": "the file or its directory is read-only for this user",
    "unable to open database file": "the file or its directory is missing or not writable",
}


def describe(exc: BaseException) -> str:
    """One line: the driver's message (first line, no SQL, no parameters) and a hint when we know one."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    hint = next((h for key, h in HINTS.items() if key in line.lower()), None)
    return f"{line} ({hint})" if hint and hint not in line else line
