"""Database plumbing shared by every store: the payment ledger and the chain books.

Each takes the URLs people write (`sqlite:///x.db`, `postgresql://...`). No store call
ever blocks the event loop on a disk or a socket, in one of two ways: the chain books
run on the async driver of their database (aiosqlite, asyncpg, `make_engine`); the
payment ledger runs plain synchronous Core, one whole transaction per hop to a worker
thread (`SyncRunner`): a payment's ledger work then costs a third (SQLite) to two
thirds (PostgreSQL) of the CPU it did with the async drivers' greenlet switch, thread
hop and result adaptation on every statement. Each store owns an Alembic
folder and its own version table, so they can share one PostgreSQL database. Also:
creating a prod database.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, TypeVar
from urllib.parse import urlparse

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from smartpay.errors import InputError

# A book that outgrows SQLite's default 2 MB page cache reads B-tree pages back with a
# syscall each: writes got slower as a load test's ledger grew. 64 MB of cache and
# reads through a memory map keep a book of millions of rows in memory.
SQLITE_CACHE_PRAGMAS = ("PRAGMA cache_size=-65536", "PRAGMA mmap_size=268435456")

_MEMORY = ("sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:")
_DRIVERS = {"sqlite": "sqlite+aiosqlite", "sqlite+pysqlite": "sqlite+aiosqlite",
            "postgresql": "postgresql+asyncpg", "postgresql+psycopg": "postgresql+asyncpg",
            "postgresql+psycopg2": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
_SYNC_DRIVERS = {"sqlite+pysqlite": "sqlite", "sqlite+aiosqlite": "sqlite",
                 "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
                 "postgresql+asyncpg": "postgresql+psycopg",
                 "postgresql+psycopg2": "postgresql+psycopg"}
# SQLite runs one writer: one thread serialises a process's transactions (as its
# single connection did). PostgreSQL: a thread blocked on a row lock holds one of these,
# the others go on; each thread has its own pooled connection.
SQLITE_THREADS, POSTGRES_THREADS = 1, 8
T = TypeVar("T")


def async_url(url: str) -> str:
    """The same database behind its async driver (`sqlite://` -> `sqlite+aiosqlite://`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InputError("database url", url, "a SQLAlchemy URL such as sqlite:///path.db")
    return f"{_DRIVERS.get(scheme, scheme)}://{rest}"


def sync_url(url: str) -> str:
    """The same database behind its synchronous driver (pysqlite, psycopg 3)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InputError("database url", url,
                         "a SQLAlchemy URL such as sqlite:///path.db")
    return f"{_SYNC_DRIVERS.get(scheme, scheme)}://{rest}"


def make_engine(url: str) -> AsyncEngine:
    """An async engine for a book: in-memory SQLite, WAL file SQLite, or a server DB.

    A SQLite book has one connection, lent to one transaction at a time. SQLite runs
    one writer anyway; queued in the pool, writers wait for an asyncio wake-up instead
    of the busy handler's sleeps (which put 360 ms on the p99 of 8 concurrent claims
    on 2 cores), and in memory a second connection would be a second, empty database
    while a shared one would let one coroutine's rollback discard another's claim.
    The queue belongs to the event loop that first waits on it: one book per loop.

    File SQLite runs in WAL mode with synchronous=NORMAL: commits survive a process
    crash (what idempotency needs) without an fsync per commit.
    """
    memory = url in _MEMORY
    url = "sqlite+aiosqlite://" if memory else async_url(url)
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0,
                                 connect_args={"timeout": 30, "check_same_thread": False})
    if not memory:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class SyncRunner:
    """Runs synchronous SQLAlchemy Core transactions in worker threads for async code.

    `await run(fn, *args)` executes `fn(conn, *args)` inside `engine.begin()` on one of
    the runner's threads: one thread hop per transaction, never a statement on the
    event loop. SQLite gets one thread (one writer; its transactions queue in order),
    PostgreSQL `POSTGRES_THREADS` threads and a pool of as many connections.
    """

    def __init__(self, url: str, threads: int | None = None, name: str = "db") -> None:
        self.url = sync_url(url)
        self.threads = threads or (SQLITE_THREADS if self.url.startswith("sqlite")
                                   else POSTGRES_THREADS)
        self.engine = make_sync_engine(self.url, self.threads)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` in one transaction on a worker thread; its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._transaction, fn, args)

    def _transaction(self, fn: Callable[..., T], args: tuple) -> T:
        with self.engine.begin() as conn:
            return fn(conn, *args)

    async def upgrade(self, script_location: Path, version_table: str = "alembic_version") -> None:
        """Bring the schema to its newest Alembic revision on a worker thread.

        The process lock is held until the transaction has committed: released any
        earlier, a second book on the same file could read the schema before this
        commit and create the same tables again.
        """
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, self._upgrade, script_location, version_table)

    def _upgrade(self, script_location: Path, version_table: str) -> None:
        from smartpay.locks import SCHEMA_MIGRATIONS

        with SCHEMA_MIGRATIONS, self.engine.begin() as conn:
            _upgrade(conn, script_location, version_table)

    async def close(self) -> None:
        """Let queued transactions finish, stop the threads, close the connections."""
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()


def make_sync_engine(url: str, pool_size: int) -> Engine:
    """A synchronous engine of `pool_size` connections (file SQLite in WAL mode)."""
    url = sync_url(url)
    if not url.startswith("sqlite"):
        # no pre-ping (a round trip per transaction, ~6% of a payment's CPU): the first
        # disconnect error invalidates the whole pool, so a database restart costs one
        # failed transaction per process
        return create_engine(url, pool_size=pool_size, max_overflow=0)
    # check_same_thread off: connections are made in a worker, closed by `dispose`
    engine = create_engine(url, poolclass=QueuePool, pool_size=pool_size,
                           max_overflow=0, connect_args={"timeout": 30, "check_same_thread": False})
    if url.partition("://")[2] not in ("", "/", "/:memory:"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    for pragma in SQLITE_CACHE_PRAGMAS:
        cur.execute(pragma)
    cur.close()


async def upgrade(engine: AsyncEngine, script_location: Path,
                  version_table: str = "alembic_version") -> None:
    """Bring a store's schema to its newest Alembic revision.

    Alembic keeps its context in module globals, so upgrades in one process are
    serialised by `smartpay.locks.SCHEMA_MIGRATIONS`; on PostgreSQL an advisory lock
    keyed by the version table does the same between processes.
    """
    from smartpay.locks import SCHEMA_MIGRATIONS

    async with holding(SCHEMA_MIGRATIONS), engine.begin() as conn:
        await conn.run_sync(_upgrade, script_location, version_table)


def _upgrade(sync_conn: Connection, script_location: Path, version_table: str) -> None:
    from alembic import command
    from alembic.config import Config

    if sync_conn.dialect.name == "postgresql":  # between processes, till commit
        sync_conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                          {"k": version_table})
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


@asynccontextmanager
async def holding(lock: threading.RLock) -> AsyncIterator[None]:
    """Hold a threading lock for a block of async code without blocking the loop.

    A worker thread acquires the lock and keeps it until the block ends: an RLock
    must be released by the thread that took it, and one holder thread per block
    keeps two coroutines of one loop from both entering (as they would if the
    loop's own thread held a re-entrant lock).
    """
    loop, release = asyncio.get_running_loop(), threading.Event()
    acquired: asyncio.Future[None] = loop.create_future()

    def hold() -> None:
        with lock:
            loop.call_soon_threadsafe(_resolve, acquired)
            release.wait()

    holder = asyncio.ensure_future(asyncio.to_thread(hold))
    try:
        await acquired
        yield
    finally:
        release.set()
        await holder


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def ensure_postgres_database(url: str) -> None:
    """Create the database named in a postgresql URL if it does not exist yet."""
    import psycopg
    from psycopg import sql

    u = urlparse(url.replace("postgresql+psycopg://", "postgresql://"))
    name = u.path.lstrip("/")
    admin = u._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
