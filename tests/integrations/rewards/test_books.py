"""The chain books' storage: URLs, engines, migrations (SQLite, and PostgreSQL in prod).

Both books (rewards and the Solana gateway's) share one engine helper, so the engine
behaviour is tested once here, on the reward book and on both books' migrations.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from smartpay.errors import InputError
from sqlalchemy import inspect, text

from smartpay.db import async_url, holding
from integrations.gateways.solana.ledger import Ledger as SolanaBook
from integrations.rewards import RewardLedger


def run(coro):
    return asyncio.run(coro)


def _entry(pid: str, **over) -> dict:
    row = {"payment_id": pid, "owner": "owner-1", "amount_minor": 1000, "units": 100, "clawed_units": 0,
           "state": "escrowed", "pending_units": 0, "created_at": 1.0, "release_after": 2.0}
    return {**row, **over}


async def _on(book, fn):
    """Run `fn(sync_connection)` against a book (thread runner or async engine)."""
    if hasattr(book, "runner"):
        return await book.runner.run(fn)
    async with book.engine.connect() as c:
        return await c.run_sync(fn)


async def _schema(book) -> dict:
    """Tables -> {column: type name} and the version rows, as the database reports them."""
    def read(sync_conn):
        insp = inspect(sync_conn)
        return {t: {col["name"]: str(col["type"]) for col in insp.get_columns(t)}
                for t in insp.get_table_names()}

    return await _on(book, read)


async def _version(book, table: str) -> str:
    return await _on(book, lambda c: c.execute(text(f"SELECT version_num FROM {table}")).scalar_one())


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///data/rewards.db", "sqlite+aiosqlite:///data/rewards.db"),
    ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
])
def test_sync_style_book_urls_should_be_served_by_the_async_driver(url, expected):
    assert async_url(url) == expected


def test_a_book_url_that_is_not_a_url_should_be_refused_naming_it():
    with pytest.raises(InputError, match="rewards.db"):
        async_url("rewards.db")


def test_migrations_should_create_both_books_on_sqlite_each_with_its_own_version_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'books.db'}"

    async def scenario():
        rewards, solana = RewardLedger(url), SolanaBook(url)
        try:
            await rewards.migrate()
            await solana.migrate()
            return (await _schema(rewards), await _version(rewards, "alembic_version_rewards"),
                    await _version(solana, "alembic_version_solana"))
        finally:
            await rewards.aclose()
            await solana.aclose()

    schema, rewards_head, solana_head = run(scenario())
    assert set(schema) == {"reward_entries", "solana_payments", "solana_refunds",
                           "alembic_version_rewards", "alembic_version_solana"}
    assert (rewards_head, solana_head) == ("rewards_0001", "solana_0001")
    assert schema["reward_entries"]["amount_minor"] == "BIGINT"
    assert schema["solana_payments"]["refunded_minor"] == "BIGINT"


def test_a_reward_book_should_hold_amounts_beyond_32_bits(tmp_path):
    async def scenario():
        book = RewardLedger(f"sqlite:///{tmp_path / 'r.db'}")
        try:
            await book.migrate()
            await book.claim(**_entry("big", amount_minor=10**15, units=10**17))
            return await book.must("big")
        finally:
            await book.aclose()

    row = run(scenario())
    assert (row["amount_minor"], row["units"]) == (10**15, 10**17)


def test_migrating_a_migrated_book_again_should_keep_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"

    async def scenario():
        book = RewardLedger(url)
        try:
            await book.migrate()
            await book.claim(**_entry("kept"))
            await book.migrate()
            return await book.get("kept")
        finally:
            await book.aclose()

    assert run(scenario())["payment_id"] == "kept"


def test_books_migrating_at_once_in_one_process_should_all_end_at_head(tmp_path):
    """Alembic's context is module-global: unserialised, concurrent upgrades collide."""
    url = f"sqlite:///{tmp_path / 'r.db'}"

    async def scenario():
        books = [RewardLedger(url) for _ in range(3)] + [SolanaBook(url) for _ in range(3)]
        try:
            await asyncio.gather(*[b.migrate() for b in books])
            return await _version(books[0], "alembic_version_rewards"), await _version(
                books[-1], "alembic_version_solana")
        finally:
            await asyncio.gather(*[b.aclose() for b in books])

    assert run(scenario()) == ("rewards_0001", "solana_0001")


def test_holding_a_reentrant_lock_should_keep_two_coroutines_of_one_loop_apart():
    lock, inside, overlaps = threading.RLock(), [], []

    async def critical(name: str) -> None:
        async with holding(lock):
            overlaps.append(len(inside))
            inside.append(name)
            await asyncio.sleep(0.02)
            inside.remove(name)

    async def scenario():
        await asyncio.gather(*[critical(f"c{i}") for i in range(4)])

    run(scenario())
    assert overlaps == [0, 0, 0, 0]
    assert lock.acquire(blocking=False)  # released by the threads that took it
    lock.release()


def test_concurrent_claims_on_an_in_memory_book_should_each_land_once():
    """One shared connection must not let a duplicate's rollback undo another claim."""

    async def scenario():
        book = RewardLedger("sqlite://")
        try:
            await book.migrate()
            ids = [f"p{i}" for i in range(100)]
            won = await asyncio.gather(*[book.claim(**_entry(p)) for p in ids for _ in range(2)])
            kept = [p for p in ids if await book.get(p) is not None]
            return sum(won), len(kept)
        finally:
            await book.aclose()

    assert run(scenario()) == (100, 100)


def test_file_books_should_run_in_wal_mode_with_the_large_page_cache(tmp_path):
    async def scenario():
        book = RewardLedger(f"sqlite:///{tmp_path / 'r.db'}")
        try:
            return await _on(book, lambda c: (c.execute(text("PRAGMA journal_mode")).scalar_one(),
                                              c.execute(text("PRAGMA cache_size")).scalar_one()))
        finally:
            await book.aclose()

    assert run(scenario()) == ("wal", -65536)


@pytest.mark.prod
def test_migrations_should_put_both_books_beside_the_payment_ledger_on_postgresql(prod_server, pg_database):
    url = pg_database(*prod_server("postgres"))

    async def scenario():
        rewards, solana = RewardLedger(url), SolanaBook(url)
        try:
            def ledger_head(c):  # the payment ledger's own Alembic table
                c.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                               "(version_num VARCHAR(32) PRIMARY KEY)"))
                c.execute(text("DELETE FROM alembic_version"))
                c.execute(text("INSERT INTO alembic_version VALUES ('ledger_head')"))

            await rewards.runner.run(ledger_head)
            await asyncio.gather(rewards.migrate(), solana.migrate())
            await rewards.migrate()
            heads = [await _version(rewards, t) for t in
                     ("alembic_version", "alembic_version_rewards", "alembic_version_solana")]
            return await _schema(rewards), heads
        finally:
            await rewards.aclose()
            await solana.aclose()

    schema, heads = run(scenario())
    assert heads == ["ledger_head", "rewards_0001", "solana_0001"]
    assert {"reward_entries", "solana_payments", "solana_refunds"} <= set(schema)
    assert schema["reward_entries"]["units"] == "BIGINT"
    assert schema["solana_refunds"]["amount_minor"] == "BIGINT"
