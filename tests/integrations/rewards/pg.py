"""A throw-away PostgreSQL database for prod-profile ledger tests."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator


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
