"""The ledger's engine and migrations, on the shared async plumbing of `smartpay.db`
(aiosqlite locally, asyncpg in prod): a slow query or a held row lock never stalls the
other requests of the process."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from smartpay import db
from smartpay.errors import InputError

_MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """The ledger's database behind its async driver; an in-memory SQLite ledger is
    refused (it would vanish with the process, and with it every answer it owes)."""
    out = db.async_url(url)
    if out.startswith("sqlite") and out.partition("://")[2] in ("", "/", "/:memory:"):
        raise InputError("ledger url", url, "a SQLite file (sqlite:///path/ledger.db)")
    return out


def make_engine(url: str) -> AsyncEngine:
    """One SQLite connection lent to one transaction at a time, or a server pool."""
    return db.make_engine(async_url(url))


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision."""
    await db.upgrade(engine, _MIGRATIONS)
