"""Every engine this process opened, so the CLI can close them before it exits without a final collection.

A leaf: the store's modules that create engines (db.py, reader.py) register them here; `cli/app.py`'s
`main` closes them. Weak references: an engine a test drops is forgotten with it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def opened(engine: Engine) -> Engine:
    _ENGINES.add(engine)
    return engine


def close_all() -> None:
    """Close the pooled connections of every engine still alive, as the interpreter's last garbage collection
    would have: SQLite checkpoints its WAL, and PostgreSQL ends a session cleanly, only when the connection
    is closed."""
    for engine in list(_ENGINES):
        try:
            engine.dispose()
        except Exception:  # noqa: BLE001 - the process is ending: its exit closes the socket, its code stands
            pass
