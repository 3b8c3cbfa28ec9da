"""The prod profile: SQL registry on PostgreSQL and Redis online store."""

from __future__ import annotations

import pytest

from features.store import open_store
from pipelines.features.pipeline import apply, build, materialize
from pipelines.io import write_parquet_atomic
from pipelines.simulate.pipeline import SimulationParams, simulate
from smartpay.settings import get_settings, reset_settings

pytestmark = pytest.mark.prod


@pytest.fixture
def prod_settings(data_dir, monkeypatch, prod_server):
    prod_server("redis")
    prod_server("postgres")
    monkeypatch.setenv("SMARTPAY_PROFILE", "prod")
    monkeypatch.setenv("SMARTPAY_REDIS_URL", "redis://127.0.0.1:6379/14")
    monkeypatch.setenv("SMARTPAY_POSTGRES_URL",
                       "postgresql+psycopg://postgres@127.0.0.1:5432/smartpay_test_feast")
    reset_settings()
    import redis

    redis.Redis(db=14).flushdb()
    yield get_settings()
    reset_settings()


def test_prod_profile_serves_online_features_from_redis_with_a_postgres_registry(prod_settings):
    raw = simulate(SimulationParams(customers=80, terminals=160, days=20, seed=5))
    path = prod_settings.path("raw", "transactions.parquet")
    write_parquet_atomic(raw, path)
    build(prod_settings, path, validate=False)
    apply(prod_settings)
    materialize(prod_settings)
    store = open_store(prod_settings)
    assert store.config.online_store.type == "redis"
    assert "fraud_model_v1" in [s.name for s in store.list_feature_services()]
    cid = int(raw["customer_id"].iloc[-1])
    tid = int(raw["terminal_id"].iloc[-1])
    out = store.get_online_features(
        features=store.get_feature_service("fraud_model_v1"),
        entity_rows=[{"customer_id": cid, "terminal_id": tid,
                      "amount_minor": 5000, "tx_epoch_s": 1_525_000_000}],
    ).to_dict()
    assert out["cust_tx_count_30d"][0] is not None
    assert out["amount"] == [50.0]
    import redis

    assert redis.Redis(db=14).dbsize() > 0
