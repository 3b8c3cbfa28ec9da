"""Initial ledger: payments, transitions, gateway attempts, idempotency keys.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger, nullable=False),
        sa.Column("method_type", sa.String(16), nullable=False),
        sa.Column("method_token", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("gateway", sa.String(32)),
        sa.Column("gateway_ref", sa.String(128)),
        sa.Column("risk_score", sa.Float),
        sa.Column("fraud_decision", sa.String(8)),
        sa.Column("route_decision_id", sa.String(64)),
        sa.Column("reason", sa.String(256)),
        sa.Column("reward", sa.JSON),
        sa.Column("idem_key", sa.String(128)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"),
                  nullable=False, index=True),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(256)),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "gateway_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"),
                  nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("gateway", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(80), nullable=False, unique=True),
        sa.Column("outcome", sa.String(16), nullable=False, index=True),
        sa.Column("error_class", sa.String(16)),
        sa.Column("gateway_ref", sa.String(128)),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("merchant_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for name in ("idempotency_keys", "gateway_attempts", "transitions", "payments"):
        op.drop_table(name)
