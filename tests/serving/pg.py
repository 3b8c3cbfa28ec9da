"""A throwaway PostgreSQL database per test (on the prod-profile server)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def scratch_database(host: str = "127.0.0.1", port: int = 5432) -> Iterator[str]:
    """Create `smartpay_t_<random>`, yield its SQLAlchemy URL, drop it afterwards."""
    import psycopg

    name = f"smartpay_t_{uuid.uuid4().hex[:10]}"
    admin = f"postgresql://postgres@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
