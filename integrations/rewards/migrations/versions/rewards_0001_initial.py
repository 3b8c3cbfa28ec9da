"""Reward book: one entry per rewarded payment.

Revision ID: rewards_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "rewards_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reward_entries",
        sa.Column("payment_id", sa.String, primary_key=True),
        sa.Column("owner", sa.String, nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("units", sa.BigInteger, nullable=False),
        sa.Column("clawed_units", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String, nullable=False, index=True),
        sa.Column("pending_sig", sa.String),
        sa.Column("pending_tx", sa.LargeBinary),
        sa.Column("pending_units", sa.BigInteger, nullable=False),
        sa.Column("mint_sig", sa.String),
        sa.Column("release_sig", sa.String),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("release_after", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reward_entries")
