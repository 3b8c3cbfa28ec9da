"""The payment ledger: SQLAlchemy 2 tables, Alembic migrations, the payment state
machine, idempotency keys, refunds, the transactional outbox and the dead-letter queue,
on an async engine: SQLite (WAL, aiosqlite) locally, PostgreSQL (asyncpg) in prod."""

from serving.ledger.dead_letters import DeadLetters
from serving.ledger.keys import Claim
from serving.ledger.refunds import RefundRefused, UnknownRefund
from serving.ledger.states import IllegalTransition, can_move
from serving.ledger.store import Ledger, new_payment_id

__all__ = ["Claim", "DeadLetters", "IllegalTransition", "Ledger", "RefundRefused",
           "UnknownRefund", "can_move", "new_payment_id"]
