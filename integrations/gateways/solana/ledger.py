"""The Solana gateway's book: one row per payment, one per refund (SQLAlchemy core, async).

A chain has no authorize/capture/refund bookkeeping, so this plays the part a card
gateway's database plays: it records each operation's signature *before* sending,
lets state changes be claimed atomically (a second capture finds nothing to claim)
and lets status sync settle anything left pending. SQLite by default, PostgreSQL in
prod; the schema comes from this package's Alembic migrations (`await book.migrate()`),
versioned in `alembic_version_solana`.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import BigInteger, Boolean, Column, Float, LargeBinary, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from smartpay.db import SQLITE_CACHE_PRAGMAS, make_engine, upgrade

__all__ = ["SQLITE_CACHE_PRAGMAS", "VERSION_TABLE", "Ledger", "meta", "payments", "refunds"]

VERSION_TABLE = "alembic_version_solana"
_MIGRATIONS = Path(__file__).parent / "migrations"

meta = MetaData()
payments = Table(
    "solana_payments", meta,
    Column("payment_id", String, primary_key=True),
    Column("gateway_ref", String, unique=True, nullable=False),
    Column("payer", String, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String, nullable=False),
    Column("capture_mode", Boolean, nullable=False),
    Column("status", String, nullable=False),
    Column("captured_minor", BigInteger, default=0, nullable=False),
    Column("refunded_minor", BigInteger, default=0, nullable=False),  # settled + reserved
    Column("pending_op", String, nullable=True),
    Column("pending_sig", String, nullable=True),
    Column("pending_amount", BigInteger, default=0, nullable=False),
    Column("pending_tx", LargeBinary, nullable=True),  # signed bytes, for re-broadcast
    Column("pending_since", Float, default=0.0, nullable=False),
    Column("decline_code", String, nullable=True),
)
refunds = Table(
    "solana_refunds", meta,
    Column("refund_id", String, primary_key=True),
    Column("payment_id", String, nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("signature", String, nullable=False),
    Column("status", String, nullable=False),
    Column("created", Float, nullable=False),
)
_IDLE = {"pending_op": None, "pending_sig": None, "pending_tx": None, "pending_amount": 0}


class Ledger:
    """Atomic bookkeeping for Solana payments (async; one engine per book)."""

    def __init__(self, url: str = "sqlite://") -> None:
        self.engine = make_engine(url)

    async def migrate(self) -> None:
        """Create or upgrade the book's tables (run once at start-up)."""
        await upgrade(self.engine, _MIGRATIONS, VERSION_TABLE)

    async def aclose(self) -> None:
        """Close the book's connections."""
        await self.engine.dispose()

    async def insert_payment(self, **row) -> bool:
        """Add a payment; False when its payment id is already booked."""
        try:
            async with self.engine.begin() as c:
                await c.execute(payments.insert().values(pending_since=time.time(), **row))
            return True
        except IntegrityError:
            return False

    async def get(self, payment_id: str | None = None, gateway_ref: str | None = None) -> dict | None:
        """A payment row by our id or by its gateway reference."""
        col, value = (payments.c.payment_id, payment_id) if payment_id else (payments.c.gateway_ref, gateway_ref)
        return await self._one(select(payments).where(col == value))

    async def must(self, payment_id: str) -> dict:
        """A payment row that is known to exist."""
        row = await self.get(payment_id)
        if row is None:
            raise LookupError(f"payment {payment_id} vanished from the ledger")
        return row

    async def claim(self, payment_id: str, statuses: set[str], op: str, tx: bytes, sig: str, amount: int) -> bool:
        """Start `op` if the payment is in one of `statuses` with nothing pending."""
        stmt = (update(payments)
                .where(payments.c.payment_id == payment_id, payments.c.status.in_(statuses),
                       payments.c.pending_op.is_(None))
                .values(pending_op=op, pending_sig=sig, pending_tx=tx, pending_amount=amount,
                        pending_since=time.time()))
        async with self.engine.begin() as c:
            return (await c.execute(stmt)).rowcount == 1

    async def settle(self, payment_id: str, sig: str, **values) -> None:
        """Finish the pending operation `sig` (if still pending), writing the new state."""
        async with self.engine.begin() as c:
            await c.execute(update(payments).where(payments.c.payment_id == payment_id,
                                                   payments.c.pending_sig == sig)
                            .values(**_IDLE, **values))

    async def abandon(self, payment_id: str, op: str, sig: str) -> None:
        """Forget operation `sig`, which was certainly never sent (if still pending)."""
        mine = (payments.c.payment_id == payment_id, payments.c.pending_sig == sig)
        async with self.engine.begin() as c:
            if op == "authorize":
                await c.execute(payments.delete().where(*mine))
            else:
                await c.execute(update(payments).where(*mine).values(**_IDLE))

    async def reserve_refund(self, refund_id: str, payment_id: str, amount: int, sig: str) -> bool:
        """Book a refund if it fits in captured - refunded; False otherwise."""
        fits = (update(payments)
                .where(payments.c.payment_id == payment_id,
                       payments.c.captured_minor - payments.c.refunded_minor >= amount)
                .values(refunded_minor=payments.c.refunded_minor + amount))
        try:
            async with self.engine.begin() as c:
                if (await c.execute(fits)).rowcount != 1:
                    return False
                await c.execute(refunds.insert().values(
                    refund_id=refund_id, payment_id=payment_id, amount_minor=amount, signature=sig,
                    status="pending", created=time.time()))
            return True
        except IntegrityError:
            return False

    async def get_refund(self, refund_id: str) -> dict | None:
        """One refund row."""
        return await self._one(select(refunds).where(refunds.c.refund_id == refund_id))

    async def pending_refunds(self, payment_id: str) -> list[dict]:
        """Refunds of a payment whose outcome is not known yet."""
        stmt = select(refunds).where(refunds.c.payment_id == payment_id, refunds.c.status == "pending")
        async with self.engine.connect() as c:
            return [dict(r) for r in (await c.execute(stmt)).mappings().all()]

    async def finish_refund(self, refund_id: str, succeeded: bool) -> None:
        """Settle a pending refund once; a failed one gives its reserved amount back."""
        settle = (update(refunds).where(refunds.c.refund_id == refund_id, refunds.c.status == "pending")
                  .values(status="succeeded" if succeeded else "failed")
                  .returning(refunds.c.payment_id, refunds.c.amount_minor))
        async with self.engine.begin() as c:
            row = (await c.execute(settle)).first()
            if row is not None and not succeeded:
                await c.execute(update(payments).where(payments.c.payment_id == row.payment_id)
                                .values(refunded_minor=payments.c.refunded_minor - row.amount_minor))

    async def _one(self, stmt) -> dict | None:
        async with self.engine.connect() as c:
            row = (await c.execute(stmt)).mappings().first()
        return dict(row) if row else None
