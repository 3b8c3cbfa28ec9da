"""The cluster profile end to end on one machine: Spark features, Feast's Spark offline
store, materialised into Redis."""

from __future__ import annotations

import uuid

import pytest

from features.store import open_store, tables_dir
from pipelines.features.pipeline import apply, build, materialize
from pipelines.io import read_table
from pipelines.simulate.pipeline import SimulationParams, run
from smartpay.settings import get_settings

pytestmark = [pytest.mark.prod, pytest.mark.spark]


@pytest.fixture
def cluster_settings(data_dir, monkeypatch, prod_server, spark):
    prod_server("redis")
    monkeypatch.setenv("SMARTPAY_PROFILE", "cluster")
    monkeypatch.setenv("SMARTPAY_REDIS_URL", "redis://127.0.0.1:6379/0")
    return get_settings()


def test_spark_offline_store_materialises_the_latest_values_into_redis(
        cluster_settings):
    settings = cluster_settings
    raw = settings.path("raw", "transactions.parquet")
    run(SimulationParams(customers=60, terminals=120, days=14, seed=5), raw)
    build(settings, raw, validate=False, engine="spark")
    project = f"spark_{uuid.uuid4().hex[:10]}"  # its own Redis keys: no collisions
    apply(settings, project)
    store = open_store(settings, project)
    try:
        counts = materialize(settings, project)
        assert store.config.online_store.type == "redis"
        table = read_table(tables_dir(settings) / "customer_spending.parquet")
        latest = table.sort_values("event_timestamp").groupby("customer_id").tail(1)
        assert counts["customer_spending"] == len(latest)
        rows = latest.head(5)
        online = store.get_online_features(
            features=["customer_spending:cust_tx_count_30d",
                      "customer_spending:cust_avg_amount_30d"],
            entity_rows=[{"customer_id": int(c)} for c in rows["customer_id"]],
        ).to_dict()
        assert online["cust_tx_count_30d"] == rows["cust_tx_count_30d"].tolist()
        assert online["cust_avg_amount_30d"] == pytest.approx(
            rows["cust_avg_amount_30d"].tolist())
    finally:
        store.teardown()
