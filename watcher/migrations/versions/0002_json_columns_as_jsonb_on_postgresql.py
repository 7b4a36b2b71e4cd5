"""JSON columns as JSONB on PostgreSQL (a no-op on SQLite)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = [("deliveries", "event_ids"), ("poll_runs", "errors"), ("poll_runs", "requests"),
           ("repos", "snapshot"), ("watches", "baselined_scopes"), ("events", "data")]


def _convert(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {to} USING "{column}"::{to}')


def upgrade() -> None:
    _convert("jsonb")


def downgrade() -> None:
    _convert("json")
