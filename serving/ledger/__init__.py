"""The payment ledger: SQLAlchemy 2 tables, Alembic migrations, the payment state machine
and idempotency keys. SQLite (WAL) in the local profile, PostgreSQL in prod."""

from serving.ledger.states import IllegalTransition, can_move
from serving.ledger.store import Claim, Ledger

__all__ = ["Claim", "IllegalTransition", "Ledger", "can_move"]
