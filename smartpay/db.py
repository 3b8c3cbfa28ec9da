"""Small database helpers shared by the prod profile (no ORM models here)."""

from __future__ import annotations

from urllib.parse import urlparse


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
