"""Ledgers for the tests: a SQLite file per test, and (prod profile) a throwaway
PostgreSQL database per session whose schema is reset for each test.

Tests are plain functions that run one coroutine with `run_ledger(url, body)`: the
ledger is built, migrated and closed inside that coroutine's event loop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from serving.ledger import Ledger


def run_ledger(url: str, body: Callable[[Ledger], Awaitable]):
    """Run `body(ledger)` on a freshly migrated ledger at `url`; its result."""

    async def main():
        ledger = Ledger(url)
        try:
            await ledger.migrate()
            return await body(ledger)
        finally:
            await ledger.close()

    return asyncio.run(main())


async def new_payment(ledger: Ledger, amount_minor: int = 100, **fields) -> str:
    """A payment in `created` of merchant `m`."""
    return await ledger.create_payment(merchant_id="m", amount_minor=amount_minor,
                                       currency="USD", method_type="card",
                                       method_token="pm_card_visa", **fields)


async def captured_payment(ledger: Ledger, amount_minor: int = 3_000) -> str:
    """A payment already captured by a gateway, ready to be refunded."""
    pid = await new_payment(ledger, amount_minor)
    await ledger.record(pid, "captured", "stripe ch_1", gateway="stripe",
                        gateway_ref="ch_1")
    return pid


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(scope="session")
def _postgres_databases():
    """Create one throwaway database on first use; drop it when the session ends."""
    import psycopg
    from psycopg import sql

    made: list[tuple[str, str]] = []

    def database(host: str, port: int) -> str:
        if not made:
            admin = f"postgresql://postgres@{host}:{port}/postgres"
            name = f"smartpay_test_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            made.append((admin, name))
        return f"postgresql://postgres@{host}:{port}/{made[0][1]}"

    yield database
    for admin, name in made:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture
def postgres_url(prod_server, _postgres_databases) -> str:
    """The session's throwaway database with an empty schema (each test migrates)."""
    import psycopg

    url = _postgres_databases(*prod_server("postgres"))
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP SCHEMA public CASCADE")
        c.execute("CREATE SCHEMA public")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.prod)])
def ledger_url(request) -> str:
    """The same test on SQLite and (prod profile) on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")
