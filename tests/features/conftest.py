"""Shared set-up of the feature tests."""

from __future__ import annotations


def use_prod_feast(monkeypatch, prod_server, redis_db: int):
    """The prod profile's Feast (Redis online store, PostgreSQL registry) on an emptied
    Redis database of the caller's own, so test files running in parallel do not
    flush each other's; the settings read afresh. The caller resets them after."""
    import redis

    from smartpay.settings import get_settings, reset_settings

    prod_server("redis")
    prod_server("postgres")
    monkeypatch.setenv("SMARTPAY_PROFILE", "prod")
    monkeypatch.setenv("SMARTPAY_REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    monkeypatch.setenv("SMARTPAY_POSTGRES_URL",
                       "postgresql+psycopg://postgres@127.0.0.1:5432/smartpay_test_feast")
    reset_settings()
    redis.Redis(db=redis_db).flushdb()
    return get_settings()
