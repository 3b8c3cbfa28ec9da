"""The synchronous runner the ledger runs on: whole transactions in worker threads."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text

from smartpay.db import SyncRunner, sync_url


def _run(url: str, body):
    async def main():
        runner = SyncRunner(url, name="test-db")
        try:
            return await body(runner)
        finally:
            await runner.close()

    return asyncio.run(main())


def test_a_transaction_runs_on_a_worker_thread_never_on_the_event_loop(tmp_path):
    async def body(runner: SyncRunner):
        return threading.get_ident(), await runner.run(lambda c: threading.get_ident())

    loop_thread, worker = _run(f"sqlite:///{tmp_path / 'x.db'}", body)
    assert worker != loop_thread


def test_a_function_that_raises_writes_nothing(tmp_path):
    def write_then_fail(c) -> None:
        c.execute(text("INSERT INTO t VALUES (1)"))
        raise ValueError("half-way")

    async def body(runner: SyncRunner):
        await runner.run(lambda c: c.execute(text("CREATE TABLE t (x INTEGER)")))
        with pytest.raises(ValueError, match="half-way"):
            await runner.run(write_then_fail)
        return await runner.run(
            lambda c: c.execute(text("SELECT count(*) FROM t")).scalar())

    assert _run(f"sqlite:///{tmp_path / 'x.db'}", body) == 0


def test_closing_stops_every_worker_thread(tmp_path):
    async def body(runner: SyncRunner):
        await asyncio.gather(*[runner.run(lambda c: None) for _ in range(5)])

    _run(f"sqlite:///{tmp_path / 'x.db'}", body)
    assert not [t for t in threading.enumerate() if t.name.startswith("test-db")]


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///data/l.db", "sqlite:///data/l.db"),
    ("sqlite+aiosqlite:///data/l.db", "sqlite:///data/l.db"),
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_any_style_of_url_is_opened_with_a_synchronous_driver(url, expected):
    assert sync_url(url) == expected


def test_sqlite_gets_one_writer_thread_and_postgresql_a_pool(tmp_path):
    sqlite = SyncRunner(f"sqlite:///{tmp_path / 'x.db'}")
    pg = SyncRunner("postgresql://u@localhost/db")
    assert (sqlite.threads, pg.threads, pg.engine.pool.size()) == (1, 8, 8)
