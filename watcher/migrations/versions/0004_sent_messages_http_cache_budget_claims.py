"""Slack sent messages, HTTP cache, API budget, outbox claims

A database made by `create_all` before migrations may already have some of these tables, so each
table and column is created only when missing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _missing(table: str, column: str | None = None) -> bool:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(table):
        return True
    return column is not None and column not in {c["name"] for c in inspector.get_columns(table)}


def upgrade() -> None:
    if _missing("api_budget"):
        _create_api_budget()
    if _missing("http_cache"):
        _create_http_cache()
    if _missing("sent_messages"):
        _create_sent_messages()
    if _missing("deliveries", "claimed_by"):
        with op.batch_alter_table('deliveries', schema=None) as batch_op:
            batch_op.add_column(sa.Column('claimed_by', sa.String(length=200), nullable=True))
            batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))


def _create_api_budget() -> None:
    op.create_table('api_budget',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )


def _create_http_cache() -> None:
    op.create_table('http_cache',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=1000), nullable=False),
    sa.Column('etag', sa.String(length=300), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', 'key')
    )


def _create_sent_messages() -> None:
    op.create_table('sent_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('destination', sa.String(length=200), nullable=False),
    sa.Column('watch', sa.String(length=200), nullable=False),
    sa.Column('part', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=True),
    sa.Column('ts', sa.String(length=40), nullable=True),
    sa.Column('thread_ts', sa.String(length=40), nullable=True),
    sa.Column('subjects', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('delivery_id', 'part')
    )
    with op.batch_alter_table('sent_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_messages_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sent_messages_destination'), ['destination'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')

    with op.batch_alter_table('sent_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_messages_destination'))
        batch_op.drop_index(batch_op.f('ix_sent_messages_delivery_id'))

    op.drop_table('sent_messages')
    op.drop_table('http_cache')
    op.drop_table('api_budget')
