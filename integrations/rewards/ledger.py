"""The reward book: one row per payment, claimed atomically so a payment mints once.

States: minting -> escrowed -> released | clawed_back; canceled (refunded before any
mint); failed (the mint transaction failed). `units` is what is still escrowed or was
released; `clawed_units` what was burnt back. The schema comes from this package's
Alembic migrations (`await book.migrate()`), versioned in `alembic_version_rewards`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import BigInteger, Column, Float, LargeBinary, MetaData, String, Table, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from smartpay.db import SyncRunner

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
    """Atomic reward bookkeeping on SQLite (default: in memory) or PostgreSQL. Async
    methods; each runs its statements as one transaction on the book's worker thread
    (`smartpay.db.SyncRunner`), so the event loop never waits on the database."""

    def __init__(self, url: str = "sqlite://") -> None:
        self.runner = SyncRunner(url, name="reward-book")

    async def migrate(self) -> None:
        """Create or upgrade the book's tables (run once at start-up)."""
        await self.runner.upgrade(_MIGRATIONS, VERSION_TABLE)

    async def aclose(self) -> None:
        """Stop the book's thread and close its connections."""
        await self.runner.close()

    async def claim(self, **row) -> bool:
        """Insert a new entry; False if this payment already has one."""
        try:
            await self.runner.run(_insert, row)
            return True
        except IntegrityError:
            return False

    async def claim_many(self, rows: list[dict]) -> bool:
        """Insert several new entries in one transaction; False (and none inserted)
        if any of these payments already has one."""
        try:
            await self.runner.run(_insert_all, rows)
            return True
        except IntegrityError:
            return False

    async def many(self, payment_ids: list[str]) -> list[dict]:
        """The entries of these payments, in the order given."""
        rows = await self.runner.run(_rows, select(entries).where(
            entries.c.payment_id.in_(payment_ids)))
        by_id = {r["payment_id"]: r for r in rows}
        return [by_id[p] for p in payment_ids if p in by_id]

    async def settle_batch(self, sig: str, from_state: str, **values) -> int:
        """Settle every entry still in `from_state` waiting on transaction `sig`."""
        stmt = update(entries).where(entries.c.pending_sig == sig,
                                     entries.c.state == from_state).values(**values)
        return await self.runner.run(_changed, stmt)

    async def get(self, payment_id: str) -> dict | None:
        """The entry for one payment."""
        rows = await self.runner.run(_rows, select(entries).where(
            entries.c.payment_id == payment_id))
        return rows[0] if rows else None

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
        return await self.runner.run(_changed_one, stmt.values(**values))

    async def due(self, now: float) -> list[dict]:
        """Escrowed entries whose refund window has passed."""
        return await self.runner.run(_rows, select(entries).where(
            entries.c.state == "escrowed", entries.c.release_after <= now))

    async def pending(self) -> list[dict]:
        """Entries with a transaction whose outcome is not known yet."""
        return await self.runner.run(_rows, select(entries).where(
            entries.c.pending_sig.is_not(None)))

    async def escrowed_units(self, owner: str) -> int:
        """Units held in escrow for one owner."""
        stmt = select(func.coalesce(func.sum(entries.c.units), 0)).where(
            entries.c.owner == owner, entries.c.state == "escrowed")
        return int(await self.runner.run(_scalar, stmt))


def _insert(conn: Connection, row: dict) -> None:
    conn.execute(entries.insert().values(**row))


def _insert_all(conn: Connection, rows: list[dict]) -> None:
    conn.execute(entries.insert(), rows)


def _changed(conn: Connection, stmt) -> int:
    return conn.execute(stmt).rowcount


def _rows(conn: Connection, stmt) -> list[dict]:
    return [dict(r) for r in conn.execute(stmt).mappings().all()]


def _changed_one(conn: Connection, stmt) -> bool:
    return conn.execute(stmt).rowcount == 1


def _scalar(conn: Connection, stmt):
    return conn.execute(stmt).scalar_one()
