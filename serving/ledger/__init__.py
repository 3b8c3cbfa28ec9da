"""The payment ledger: SQLAlchemy 2 tables, Alembic migrations, the payment state
machine, idempotency keys, refunds, the transactional outbox and the dead-letter queue,
as async methods over synchronous Core in worker threads: SQLite (WAL, pysqlite)
locally, PostgreSQL (psycopg) in prod."""

from serving.ledger.dead_letters import DeadLetters
from serving.ledger.keys import Claim
from serving.ledger.refunds import RefundRefused, UnknownRefund
from serving.ledger.states import IllegalTransition, can_move
from serving.ledger.store import Ledger, new_payment_id

__all__ = ["Claim", "DeadLetters", "IllegalTransition", "Ledger", "RefundRefused",
           "UnknownRefund", "can_move", "new_payment_id"]
