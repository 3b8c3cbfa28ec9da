"""Solana gateway book: payments and refunds with their pending transactions.

Revision ID: solana_0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "solana_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "solana_payments",
        sa.Column("payment_id", sa.String, primary_key=True),
        sa.Column("gateway_ref", sa.String, nullable=False, unique=True),
        sa.Column("payer", sa.String, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String, nullable=False),
        sa.Column("capture_mode", sa.Boolean, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("captured_minor", sa.BigInteger, nullable=False),
        sa.Column("refunded_minor", sa.BigInteger, nullable=False),
        sa.Column("pending_op", sa.String),
        sa.Column("pending_sig", sa.String),
        sa.Column("pending_amount", sa.BigInteger, nullable=False),
        sa.Column("pending_tx", sa.LargeBinary),
        sa.Column("pending_since", sa.Float, nullable=False),
        sa.Column("decline_code", sa.String),
    )
    op.create_table(
        "solana_refunds",
        sa.Column("refund_id", sa.String, primary_key=True),
        sa.Column("payment_id", sa.String, nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("solana_refunds")
    op.drop_table("solana_payments")
