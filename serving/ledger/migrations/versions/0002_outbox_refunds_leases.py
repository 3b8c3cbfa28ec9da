"""Transactional outbox, durable dead letters, reserved refunds, idempotency leases
(and an index to find the payment an Idempotency-Key created).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
UNPUBLISHED = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("merchant_id", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.String(40)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("published_at", TS),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["id"],
                    postgresql_where=UNPUBLISHED, sqlite_where=UNPUBLISHED)
    op.create_table(
        "dead_letters",
        sa.Column("entry_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False, index=True),
        sa.Column("handler", sa.String(64), nullable=False),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("parked_at", TS, nullable=False),
    )
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(128), primary_key=True),
        sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.id"),
                  nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(12), nullable=False, index=True),
        sa.Column("gateway_ref", sa.String(128)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
    )
    # NULL = no lease: keys claimed before this revision may be taken over
    op.add_column("idempotency_keys", sa.Column("lease_until", TS))
    op.create_index("ix_payments_merchant_idem_key", "payments",
                    ["merchant_id", "idem_key"])


def downgrade() -> None:
    op.drop_index("ix_payments_merchant_idem_key", "payments")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("lease_until")
    for name in ("refunds", "dead_letters", "outbox"):
        op.drop_table(name)
