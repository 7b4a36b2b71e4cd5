"""The newest schema revision, read from the migration scripts as text: no SQLAlchemy, no Alembic.

Why: every read-only command compares the stored revision with this one, and the sqlite3 read paths
(store/lite.py) must do so without importing SQLAlchemy.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.M)


@functools.lru_cache(maxsize=1)
def head() -> str:
    """The newest revision, from the migration files' `revision`/`down_revision` lines."""
    revisions, downs = set(), set()
    for script in VERSIONS.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found:
            revisions.add(found.group(1))
            down = _DOWN.search(source)
            downs.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)) if down else [])
    heads = revisions - downs
    if len(heads) == 1:
        return heads.pop()
    from watcher.store import migrate  # not one plain chain: let Alembic decide (or say what is wrong)

    return migrate.head()
