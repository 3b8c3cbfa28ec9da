"""Outbox claims: a relay leases the rows it publishes (`claimed_until`) with a
conditional update, so two relays never take the same row and no transaction stays
open while events are published.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL = unclaimed; a claim whose relay died expires and the row is taken again
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_until")
