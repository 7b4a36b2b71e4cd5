"""Alembic environment: always driven from watcher.store.migrate with an open connection (never a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.types import TypeDecorator

from watcher.store.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running the `alembic` CLI by hand
    raise RuntimeError("run migrations through `watcher db upgrade`, not the bare alembic command")


def render_item(kind, obj, _autogen_context):
    """Write our TypeDecorators as their plain SQL type, so a revision never imports watcher code."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


# Batch mode lets ALTERs work on SQLite (copy-and-move); on PostgreSQL it issues plain ALTER TABLE.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
