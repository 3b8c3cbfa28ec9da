"""Every payment keeps the fraud model version that decided it and that version's
review and decline thresholds (the decision policy travels with the model).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("fraud_model_version", sa.String(64)))
    op.add_column("payments", sa.Column("fraud_thresholds", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("fraud_thresholds")
        batch.drop_column("fraud_model_version")
