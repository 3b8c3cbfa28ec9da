"""The reward book: one row per payment, claimed atomically so a payment mints once.

States: minting -> escrowed -> released | clawed_back; canceled (refunded before any
mint); failed (the mint transaction failed). `units` is what is still escrowed or was
released; `clawed_units` what was burnt back.
"""

from __future__ import annotations

import time

from sqlalchemy import Column, Float, Integer, LargeBinary, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from integrations.gateways.solana.ledger import make_engine

meta = MetaData()
entries = Table(
    "reward_entries", meta,
    Column("payment_id", String, primary_key=True),
    Column("owner", String, nullable=False, index=True),
    Column("amount_minor", Integer, nullable=False),
    Column("units", Integer, nullable=False),
    Column("clawed_units", Integer, default=0, nullable=False),
    Column("state", String, nullable=False, index=True),
    Column("pending_sig", String, nullable=True),
    Column("pending_tx", LargeBinary, nullable=True),
    Column("pending_units", Integer, default=0, nullable=False),
    Column("mint_sig", String, nullable=True),
    Column("release_sig", String, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("release_after", Float, nullable=False),
)


class RewardLedger:
    """Atomic reward bookkeeping (SQLite by default, any SQLAlchemy URL)."""

    def __init__(self, url: str = "sqlite://") -> None:
        self.engine = make_engine(url)
        meta.create_all(self.engine)

    def claim(self, **row) -> bool:
        """Insert a new entry; False if this payment already has one."""
        try:
            with self.engine.begin() as c:
                c.execute(entries.insert().values(**row))
            return True
        except IntegrityError:
            return False

    def get(self, payment_id: str) -> dict | None:
        """The entry for one payment."""
        with self.engine.connect() as c:
            row = c.execute(select(entries).where(entries.c.payment_id == payment_id)).mappings().first()
        return dict(row) if row else None

    def must(self, payment_id: str) -> dict:
        """An entry that is known to exist."""
        row = self.get(payment_id)
        if row is None:
            raise LookupError(f"reward entry {payment_id} vanished from the ledger")
        return row

    def transition(self, payment_id: str, from_state: str, *, pending_of: str | None = None, **values) -> bool:
        """Move an entry out of `from_state` (and, if given, pending tx `pending_of`)."""
        stmt = update(entries).where(entries.c.payment_id == payment_id, entries.c.state == from_state)
        if pending_of is not None:
            stmt = stmt.where(entries.c.pending_sig == pending_of)
        with self.engine.begin() as c:
            return c.execute(stmt.values(**values)).rowcount == 1

    def due(self, now: float) -> list[dict]:
        """Escrowed entries whose refund window has passed."""
        stmt = select(entries).where(entries.c.state == "escrowed", entries.c.release_after <= now)
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(stmt).mappings().all()]

    def pending(self) -> list[dict]:
        """Entries with a transaction whose outcome is not known yet."""
        stmt = select(entries).where(entries.c.pending_sig.is_not(None))
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(stmt).mappings().all()]

    def escrowed_units(self, owner: str) -> int:
        """Units held in escrow for one owner."""
        stmt = select(entries.c.units).where(entries.c.owner == owner, entries.c.state == "escrowed")
        with self.engine.connect() as c:
            return sum(c.execute(stmt).scalars().all())


def now() -> float:
    """Wall-clock seconds (kept separate so tests can pass their own clock)."""
    return time.time()
