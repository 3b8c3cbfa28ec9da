"""The served decision log: each payment's routing decision (context, eligibility,
fees, gateway statistics, probabilities) and the outcome of the attempt it routed.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "route_decisions",
        sa.Column("decision_id", sa.String(64), primary_key=True),
        sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(64)),
        sa.Column("gateway", sa.String(32), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("success", sa.Boolean()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_route_decisions_payment_id", "route_decisions", ["payment_id"])
    op.create_index("ix_route_decisions_created_at", "route_decisions", ["created_at"])


def downgrade() -> None:
    op.drop_table("route_decisions")
