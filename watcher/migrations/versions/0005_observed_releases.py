"""Observed releases: variants' first open weights as the watcher saw them (issue 11)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('observed_releases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cadence', sa.String(length=200), nullable=False),
    sa.Column('watch', sa.String(length=200), nullable=False),
    sa.Column('flagship', sa.String(length=200), nullable=False),
    sa.Column('flagship_released', sa.String(length=10), nullable=False),
    sa.Column('variant', sa.String(length=100), nullable=False),
    sa.Column('repo', sa.String(length=600), nullable=False),
    sa.Column('released', sa.String(length=10), nullable=False),
    sa.Column('hub_created_at', sa.String(length=40), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cadence', 'watch', 'variant')
    )
    op.create_index(op.f('ix_observed_releases_cadence'), 'observed_releases', ['cadence'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_observed_releases_cadence'), table_name='observed_releases')
    op.drop_table('observed_releases')
