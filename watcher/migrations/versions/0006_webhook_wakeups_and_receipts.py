"""Hub webhooks: wake-ups forwarded by standby replicas, and when the last webhook arrived

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_wakeups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watch', sa.String(length=200), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('webhook_receipts',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('last_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_repo', sa.String(length=200), nullable=True),
    sa.Column('last_rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_rejection', sa.String(length=40), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )


def downgrade() -> None:
    op.drop_table('webhook_receipts')
    op.drop_table('webhook_wakeups')
