"""Which views live pushes may write: the fresh fraud windows and the gateway
statistics, never the label-delayed terminal fraud shares."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from features.fresh import CUSTOMER_PUSH, TERMINAL_PUSH, views_of, write_rows
from features.store import open_store
from pipelines.features.pipeline import apply
from smartpay.settings import get_settings


@pytest.fixture
def store(data_dir):
    apply(get_settings())
    return open_store(get_settings())


def test_each_push_source_feeds_exactly_its_view(store):
    assert views_of(store, CUSTOMER_PUSH) == ["customer_spending"]
    assert views_of(store, TERMINAL_PUSH) == ["terminal_activity"]
    assert views_of(store, "gateway_stats_push") == ["gateway_stats"]


def test_no_push_source_feeds_the_label_delayed_fraud_shares(store):
    risk = store.get_feature_view("terminal_risk")
    assert risk.stream_source is None
    assert all(f.name.startswith("term_fraud_share_") for f in risk.features)
    pushed = store.get_feature_view("terminal_activity")
    assert not any("fraud" in f.name for f in pushed.features)


def test_a_pushed_gateway_statistic_is_read_online(store):
    row = {"gateway_segment": "stripe|visa:US:ecommerce",
           "event_timestamp": datetime.now(timezone.utc), "sr_15m": 0.5, "sr_1h": 0.6,
           "sr_24h": 0.7, "latency_1h_s": 0.2, "attempts_1h": 12}
    write_rows(store, views_of(store, "gateway_stats_push"), [row])
    got = store.get_online_features(
        features=["gateway_stats:sr_15m", "gateway_stats:attempts_1h"],
        entity_rows=[{"gateway_segment": "stripe|visa:US:ecommerce"}]).to_dict()
    assert got["sr_15m"] == [0.5] and got["attempts_1h"] == [12]
