"""The reward book: one row per payment, claimed atomically so a payment mints once.

States: minting -> escrowed -> released | clawed_back; canceled (refunded before any
mint); failed (the mint transaction failed). `units` is what is still escrowed or was
released; `clawed_units` what was burnt back. The schema comes from this package's
Alembic migrations (`await book.migrate()`), versioned in `alembic_version_rewards`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Column, Float, LargeBinary, MetaData, String, Table, func, select, update
from sqlalchemy.exc import IntegrityError

from smartpay.db import make_engine, upgrade

VERSION_TABLE = "alembic_version_rewards"
_MIGRATIONS = Path(__file__).parent / "migrations"

meta = MetaData()
entries = Table(
    "reward_entries", meta,
    Column("payment_id", String, primary_key=True),
    Column("owner", String, nullable=False, index=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("units", BigInteger, nullable=False),
    Column("clawed_units", BigInteger, default=0, nullable=False),
    Column("state", String, nullable=False, index=True),
    Column("pending_sig", String, nullable=True),
    Column("pending_tx", LargeBinary, nullable=True),
    Column("pending_units", BigInteger, default=0, nullable=False),
    Column("mint_sig", String, nullable=True),
    Column("release_sig", String, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("release_after", Float, nullable=False),
)


class RewardLedger:
    """Atomic reward bookkeeping on SQLite (default: in memory) or PostgreSQL, async."""

    def __init__(self, url: str = "sqlite://") -> None:
        self.engine = make_engine(url)

    async def migrate(self) -> None:
        """Create or upgrade the book's tables (run once at start-up)."""
        await upgrade(self.engine, _MIGRATIONS, VERSION_TABLE)

    async def aclose(self) -> None:
        """Close the book's connections."""
        await self.engine.dispose()

    async def claim(self, **row) -> bool:
        """Insert a new entry; False if this payment already has one."""
        try:
            async with self.engine.begin() as c:
                await c.execute(entries.insert().values(**row))
            return True
        except IntegrityError:
            return False

    async def get(self, payment_id: str) -> dict | None:
        """The entry for one payment."""
        async with self.engine.connect() as c:
            res = await c.execute(select(entries).where(entries.c.payment_id == payment_id))
            row = res.mappings().first()
        return dict(row) if row else None

    async def must(self, payment_id: str) -> dict:
        """An entry that is known to exist."""
        row = await self.get(payment_id)
        if row is None:
            raise LookupError(f"reward entry {payment_id} vanished from the ledger")
        return row

    async def transition(self, payment_id: str, from_state: str, *, pending_of: str | None = None,
                         **values) -> bool:
        """Move an entry out of `from_state` (and, if given, pending tx `pending_of`)."""
        stmt = update(entries).where(entries.c.payment_id == payment_id, entries.c.state == from_state)
        if pending_of is not None:
            stmt = stmt.where(entries.c.pending_sig == pending_of)
        async with self.engine.begin() as c:
            return (await c.execute(stmt.values(**values))).rowcount == 1

    async def due(self, now: float) -> list[dict]:
        """Escrowed entries whose refund window has passed."""
        return await self._rows(select(entries).where(entries.c.state == "escrowed",
                                                      entries.c.release_after <= now))

    async def pending(self) -> list[dict]:
        """Entries with a transaction whose outcome is not known yet."""
        return await self._rows(select(entries).where(entries.c.pending_sig.is_not(None)))

    async def escrowed_units(self, owner: str) -> int:
        """Units held in escrow for one owner."""
        stmt = select(func.coalesce(func.sum(entries.c.units), 0)).where(
            entries.c.owner == owner, entries.c.state == "escrowed")
        async with self.engine.connect() as c:
            return int((await c.execute(stmt)).scalar_one())

    async def _rows(self, stmt) -> list[dict]:
        async with self.engine.connect() as c:
            return [dict(r) for r in (await c.execute(stmt)).mappings().all()]
