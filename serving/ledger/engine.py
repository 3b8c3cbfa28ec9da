"""The ledger's database runner and migrations, on `smartpay.db.SyncRunner`: plain
synchronous Core in worker threads (pysqlite locally, psycopg in prod), one transaction
per hop, so a slow query or a held row lock never stalls the event loop."""

from __future__ import annotations

from pathlib import Path

from smartpay import db
from smartpay.errors import InputError

_MIGRATIONS = Path(__file__).parent / "migrations"


def sync_url(url: str) -> str:
    """The ledger's database behind its synchronous driver; an in-memory SQLite ledger
    is refused (it would vanish with the process, and with it every answer it owes)."""
    out = db.sync_url(url)
    if out.startswith("sqlite") and out.partition("://")[2] in ("", "/", "/:memory:"):
        raise InputError("ledger url", url, "a SQLite file (sqlite:///path/ledger.db)")
    return out


def make_runner(url: str) -> db.SyncRunner:
    """One writer thread on SQLite, a pool of threads and connections on PostgreSQL."""
    return db.SyncRunner(sync_url(url), name="ledger-db")


async def migrate(runner: db.SyncRunner) -> None:
    """Bring the schema to the newest Alembic revision."""
    await runner.upgrade(_MIGRATIONS)
