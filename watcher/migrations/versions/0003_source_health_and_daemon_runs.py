"""Source failure streaks and daemon runs (the daemon issue's tables)

Releases before migrations may already have these tables (create_all made them), so each is
created only when missing; such a database is stamped 0001 and passes through here unharmed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("daemon_runs"):
        op.create_table('daemon_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('host', sa.String(length=200), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
    if _missing("source_health"):
        op.create_table('source_health',
        sa.Column('watch', sa.String(length=200), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('consecutive_failures', sa.Integer(), nullable=False),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('alerted', sa.Boolean(), nullable=False),
        sa.Column('streaks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('watch', 'source')
        )


def downgrade() -> None:
    op.drop_table('source_health')
    op.drop_table('daemon_runs')
