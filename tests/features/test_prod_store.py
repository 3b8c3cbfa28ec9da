"""The prod profile: SQL registry on PostgreSQL and Redis online store."""

from __future__ import annotations

import pytest

from features.store import open_store
from pipelines.features.pipeline import apply, build, materialize
from pipelines.io import write_parquet_atomic
from pipelines.simulate.pipeline import SimulationParams, simulate
from smartpay.settings import reset_settings
from tests.features.conftest import use_prod_feast

pytestmark = pytest.mark.prod


@pytest.fixture
def prod_settings(data_dir, monkeypatch, prod_server):
    yield use_prod_feast(monkeypatch, prod_server, redis_db=14)
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
