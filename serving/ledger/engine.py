"""The ledger's async engine and its migrations: aiosqlite locally, asyncpg in prod.

Both drivers keep the disk and the network off the event loop (aiosqlite runs each
connection in a thread of its own), so a slow query or a held row lock never stalls
the other requests of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from integrations.gateways.solana.ledger import SQLITE_CACHE_PRAGMAS
from smartpay.errors import InputError

_MIGRATIONS = Path(__file__).parent / "migrations"
_ASYNC_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """The same database behind an async driver (sqlite -> sqlite+aiosqlite)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InputError("ledger url", url, "a SQLAlchemy URL such as sqlite:///path")
    scheme = _ASYNC_SCHEMES.get(scheme, scheme)
    if scheme.startswith("sqlite") and rest in ("", "/", "/:memory:"):
        # each pooled connection would open its own empty database
        raise InputError("ledger url", url, "a SQLite file (sqlite:///path/ledger.db)")
    return f"{scheme}://{rest}"


def make_engine(url: str) -> AsyncEngine:
    """An async engine: SQLite in WAL mode with a large page cache, or a pool."""
    url = async_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # One connection, lent to one transaction at a time: SQLite has one writer
        # anyway, and concurrent writers on several connections wait in SQLite's busy
        # handler, which sleeps (16 concurrent payments: ~25% less throughput and a
        # higher p99 than queueing for the one connection). Callers never hold a
        # connection while asking for another, so the queue cannot deadlock.
        kwargs.update(pool_size=1, max_overflow=0, connect_args={"timeout": 5})
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL + synchronous=NORMAL: a commit survives a process crash (what idempotency
    # needs) without an fsync per commit
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    for pragma in SQLITE_CACHE_PRAGMAS:
        cur.execute(pragma)
    cur.close()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision (Alembic runs in `run_sync`)."""
    from smartpay.locks import SCHEMA_MIGRATIONS

    async with _held(SCHEMA_MIGRATIONS), engine.begin() as conn:
        await conn.run_sync(_upgrade)


def _upgrade(sync_conn) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


@contextlib.asynccontextmanager
async def _held(lock) -> AsyncIterator[None]:
    """Hold a threading lock without blocking the loop while waiting for it.

    A thread of our own takes and later releases it: an RLock belongs to the thread
    that took it, and taking it on the loop thread would let a second coroutine of the
    same loop re-enter it while Alembic's module globals are in use.
    """
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(1, thread_name_prefix="ledger-migrate")
    taking = loop.run_in_executor(pool, lock.acquire)
    try:
        await asyncio.shield(taking)
    except asyncio.CancelledError:  # release it as soon as the thread gets it
        taking.add_done_callback(lambda _: _release_later(pool, lock))
        raise
    try:
        yield
    finally:
        await loop.run_in_executor(pool, lock.release)
        pool.shutdown(wait=True)


def _release_later(pool: ThreadPoolExecutor, lock) -> None:
    pool.submit(lock.release)
    pool.shutdown(wait=False)
