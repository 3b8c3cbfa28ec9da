"""The `gateway_stats` Feast view serves what the router pipeline writes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.sources_gateway import GATEWAY_STATS_TABLE, gateway_segment, gateway_stats_source
from features.store import _absolutize, open_store, store_dir, tables_dir
from features.views.gateway import gateway_stats
from pipelines.io import write_parquet_atomic
from pipelines.router import nodes
from smartpay.settings import get_settings


def _log() -> pd.DataFrame:
    t = pd.Timestamp("2024-03-01 10:00") + pd.to_timedelta(np.arange(120) * 30, "s")
    return pd.DataFrame({"timestamp": t, "gateway": "stripe", "segment": "visa:US:ecommerce",
                         "success": np.arange(120) % 4 != 0, "latency_ms": 400.0})


def test_gateway_stats_are_served_online_and_point_in_time_offline(data_dir):
    settings = get_settings()
    table = nodes.gateway_stats_table(_log())
    write_parquet_atomic(table, tables_dir(settings) / GATEWAY_STATS_TABLE)
    mine = [gateway_segment, gateway_stats_source, gateway_stats]
    _absolutize(mine, store_dir(settings))  # as features.store.definitions() does
    store = open_store(settings)
    store.apply(mine)
    key = "stripe|visa:US:ecommerce"
    entity = pd.DataFrame({"gateway_segment": [key], "event_timestamp": [pd.Timestamp("2024-03-01 10:20")]})
    hist = store.get_historical_features(entity_df=entity, features=["gateway_stats:sr_15m"]).to_df()
    expected = table.loc[table["event_timestamp"] <= "2024-03-01 10:20", "sr_15m"].iloc[-1]
    assert hist["sr_15m"].iloc[0] == np.float64(expected)
    store.materialize(start_date=pd.Timestamp("2024-03-01").to_pydatetime(),
                      end_date=pd.Timestamp("2024-03-02").to_pydatetime(), feature_views=["gateway_stats"])
    online = store.get_online_features(features=["gateway_stats:sr_1h", "gateway_stats:sr_24h"],
                                       entity_rows=[{"gateway_segment": key}]).to_dict()
    assert abs(online["sr_24h"][0] - (90 + 1.8) / 122) < 1e-9
