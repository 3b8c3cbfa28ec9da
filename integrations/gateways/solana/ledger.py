"""The Solana gateway's book: one row per payment, one per refund (SQLAlchemy core).

A chain has no authorize/capture/refund bookkeeping, so this plays the part a card
gateway's database plays: it records each operation's signature *before* sending,
lets state changes be claimed atomically (a second capture finds nothing to claim)
and lets status sync settle anything left pending. SQLite by default, any SQLAlchemy
URL (PostgreSQL in prod) works.
"""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy import (
    Boolean, Column, Float, Integer, LargeBinary, MetaData, String, Table, create_engine, select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

meta = MetaData()
payments = Table(
    "solana_payments", meta,
    Column("payment_id", String, primary_key=True),
    Column("gateway_ref", String, unique=True, nullable=False),
    Column("payer", String, nullable=False),
    Column("amount_minor", Integer, nullable=False),
    Column("currency", String, nullable=False),
    Column("capture_mode", Boolean, nullable=False),
    Column("status", String, nullable=False),
    Column("captured_minor", Integer, default=0, nullable=False),
    Column("refunded_minor", Integer, default=0, nullable=False),  # settled + reserved
    Column("pending_op", String, nullable=True),
    Column("pending_sig", String, nullable=True),
    Column("pending_amount", Integer, default=0, nullable=False),
    Column("pending_tx", LargeBinary, nullable=True),  # signed bytes, for re-broadcast
    Column("pending_since", Float, default=0.0, nullable=False),
    Column("decline_code", String, nullable=True),
)
refunds = Table(
    "solana_refunds", meta,
    Column("refund_id", String, primary_key=True),
    Column("payment_id", String, nullable=False, index=True),
    Column("amount_minor", Integer, nullable=False),
    Column("signature", String, nullable=False),
    Column("status", String, nullable=False),
    Column("created", Float, nullable=False),
)


# A book that outgrows SQLite's default 2 MB page cache reads B-tree pages back with a
# syscall each: writes got slower as a load test's ledger grew. 64 MB of cache and
# reads through a memory map keep a book of millions of rows in memory.
SQLITE_CACHE_PRAGMAS = ("PRAGMA cache_size=-65536", "PRAGMA mmap_size=268435456")


def make_engine(url: str):
    """An engine for a ledger: shared in-memory SQLite, WAL file SQLite, or any server DB.

    File SQLite runs in WAL mode with synchronous=NORMAL: commits survive a process
    crash (what idempotency needs) without an fsync per commit.
    """
    if url in ("sqlite://", "sqlite:///:memory:"):
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    if not url.startswith("sqlite"):
        return create_engine(url)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        for pragma in SQLITE_CACHE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    return engine


class Ledger:
    """Atomic bookkeeping for Solana payments."""

    def __init__(self, url: str = "sqlite://") -> None:
        self.engine = make_engine(url)
        meta.create_all(self.engine)

    def insert_payment(self, **row) -> bool:
        """Add a payment; False when its payment id is already booked."""
        try:
            with self.engine.begin() as c:
                c.execute(payments.insert().values(pending_since=time.time(), **row))
            return True
        except IntegrityError:
            return False

    def get(self, payment_id: str | None = None, gateway_ref: str | None = None) -> dict | None:
        """A payment row by our id or by its gateway reference."""
        col, value = (payments.c.payment_id, payment_id) if payment_id else (payments.c.gateway_ref, gateway_ref)
        with self.engine.connect() as c:
            row = c.execute(select(payments).where(col == value)).mappings().first()
        return dict(row) if row else None

    def must(self, payment_id: str) -> dict:
        """A payment row that is known to exist."""
        row = self.get(payment_id)
        if row is None:
            raise LookupError(f"payment {payment_id} vanished from the ledger")
        return row

    def claim(self, payment_id: str, statuses: set[str], op: str, tx: bytes, sig: str, amount: int) -> bool:
        """Start `op` if the payment is in one of `statuses` with nothing pending."""
        stmt = (update(payments)
                .where(payments.c.payment_id == payment_id, payments.c.status.in_(statuses),
                       payments.c.pending_op.is_(None))
                .values(pending_op=op, pending_sig=sig, pending_tx=tx, pending_amount=amount,
                        pending_since=time.time()))
        with self.engine.begin() as c:
            return c.execute(stmt).rowcount == 1

    def settle(self, payment_id: str, sig: str, **values) -> None:
        """Finish the pending operation `sig` (if still pending), writing the new state."""
        with self.engine.begin() as c:
            c.execute(update(payments).where(payments.c.payment_id == payment_id, payments.c.pending_sig == sig)
                      .values(pending_op=None, pending_sig=None, pending_tx=None, pending_amount=0, **values))

    def abandon(self, payment_id: str, op: str) -> None:
        """Forget an operation that was certainly never sent."""
        with self.engine.begin() as c:
            if op == "authorize":
                c.execute(payments.delete().where(payments.c.payment_id == payment_id))
            else:
                c.execute(update(payments).where(payments.c.payment_id == payment_id)
                          .values(pending_op=None, pending_sig=None, pending_tx=None, pending_amount=0))

    def reserve_refund(self, refund_id: str, payment_id: str, amount: int, sig: str) -> bool:
        """Book a refund if it fits in captured - refunded; False otherwise."""
        fits = (update(payments)
                .where(payments.c.payment_id == payment_id,
                       payments.c.captured_minor - payments.c.refunded_minor >= amount)
                .values(refunded_minor=payments.c.refunded_minor + amount))
        try:
            with self.engine.begin() as c:
                if c.execute(fits).rowcount != 1:
                    return False
                c.execute(refunds.insert().values(refund_id=refund_id, payment_id=payment_id, amount_minor=amount,
                                                  signature=sig, status="pending", created=time.time()))
            return True
        except IntegrityError:
            return False

    def get_refund(self, refund_id: str) -> dict | None:
        """One refund row."""
        with self.engine.connect() as c:
            row = c.execute(select(refunds).where(refunds.c.refund_id == refund_id)).mappings().first()
        return dict(row) if row else None

    def pending_refunds(self, payment_id: str) -> list[dict]:
        """Refunds of a payment whose outcome is not known yet."""
        with self.engine.connect() as c:
            rows = c.execute(select(refunds).where(refunds.c.payment_id == payment_id,
                                                   refunds.c.status == "pending")).mappings().all()
        return [dict(r) for r in rows]

    def finish_refund(self, refund_id: str, succeeded: bool) -> None:
        """Settle a refund; a failed one gives its reserved amount back."""
        with self.engine.begin() as c:
            row = c.execute(select(refunds).where(refunds.c.refund_id == refund_id)).mappings().first()
            if row is None or row["status"] != "pending":
                return
            c.execute(update(refunds).where(refunds.c.refund_id == refund_id)
                      .values(status="succeeded" if succeeded else "failed"))
            if not succeeded:
                c.execute(update(payments).where(payments.c.payment_id == row["payment_id"])
                          .values(refunded_minor=payments.c.refunded_minor - row["amount_minor"]))
