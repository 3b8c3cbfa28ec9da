"""A throw-away PostgreSQL database for prod-profile book tests, one per test session.

Tests ask for the server with the `prod_server` fixture (which skips or fails when it
is down) and pass its address to `pg_database`, which creates the database on first
use and drops it when the session ends. Import `pg_database` into a test module or
conftest to use it there.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest


@contextmanager
def scratch_database(host: str, port: int) -> Iterator[str]:
    """Create a uniquely named database, yield its SQLAlchemy URL, drop it afterwards."""
    import psycopg

    name = f"smartpay_test_{uuid.uuid4().hex[:10]}"
    admin = f"postgresql://postgres@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[str, int], str]]:
    """`pg_database(host, port)` -> the URL of this session's scratch database."""
    made: dict[tuple[str, int], str] = {}
    contexts = []

    def url(host: str, port: int) -> str:
        if (host, port) not in made:
            ctx = scratch_database(host, port)
            made[(host, port)] = ctx.__enter__()
            contexts.append(ctx)
        return made[(host, port)]

    yield url
    for ctx in contexts:
        ctx.__exit__(None, None, None)
