"""Gateway statistics shared through Feast: what the served router pushes is what the
batch build holds at the same instant, and decisions are computed from what it reads."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from features.fresh import views_of, write_rows
from features.sources_gateway import GATEWAY_STATS_TABLE
from features.store import open_store, tables_dir
from models.router.policy import RouterPolicy
from models.router.shared_stats import FEATURE_SERVICE, PUSH_SOURCE, SharedStats
from models.router.stats import FEATURES, ROW, gateway_segment
from pipelines.features.pipeline import apply
from pipelines.io import write_parquet_atomic
from pipelines.router import nodes
from smartpay.settings import get_settings
from tests.models.router.helpers import small_config

T0 = 1_709_287_200  # 2024-03-01 10:00 UTC, a whole minute
CONTEXTS = [dict(card_network=n, issuing_country=c, currency=cur, amount_minor=2_500,
                 merchant_category="grocery", channel=ch, hour=10, risk_score=0.05)
            for n, c, cur, ch in [("visa", "US", "USD", "ecommerce"),
                                  ("mastercard", "DE", "EUR", "ecommerce"),
                                  ("visa", "DE", "EUR", "card_present")]]


@pytest.fixture
def store(data_dir):
    apply(get_settings())
    return open_store(get_settings())


def _replay(policy: RouterPolicy, seconds: range, rng, log: list[dict],
            sync=None) -> None:
    """Route and settle one payment at each second in `seconds` (event time); `sync()`
    runs whenever a new minute starts, as the served router's 1 s sync does."""
    for t in seconds:
        if sync is not None and log and t // 60 != log[-1]["timestamp"].timestamp() // 60:
            sync()
        ctx = CONTEXTS[int(rng.integers(len(CONTEXTS)))]
        d = policy.decide(ctx, policy.eligible_for(ctx), now_s=float(t))
        ok, latency = bool(rng.random() < 0.85), float(rng.uniform(100, 900))
        policy.learn(d.decision_id, {"success": ok, "latency_ms": latency})
        log.append({"timestamp": datetime.fromtimestamp(t, timezone.utc),
                    "gateway": d.gateway, "segment": d.record["segment"], "success": ok,
                    "latency_ms": latency})


def _online(store, keys: list[str]) -> pd.DataFrame:
    got = store.get_online_features(features=store.get_feature_service(FEATURE_SERVICE),
                                    entity_rows=[{"gateway_segment": k} for k in keys])
    return pd.DataFrame(got.to_dict()).set_index("gateway_segment")[list(ROW)]


def _as_of(table: pd.DataFrame, instant: pd.Timestamp, keys: list[str]) -> pd.DataFrame:
    """The batch table's row of each key at `instant`, a whole minute: its newest row
    of an earlier minute (a row stamped minute m holds all of minute m's outcomes)."""
    seen = table[table["event_timestamp"] < instant].sort_values("event_timestamp")
    return seen.groupby("gateway_segment").last().reindex(keys)[list(ROW)]


def test_online_statistics_after_a_replay_equal_the_offline_build_at_the_same_instants(store):
    policy, rng, log = RouterPolicy(small_config(), seed=3), np.random.default_rng(3), []
    shared = SharedStats(lambda: store, policy.names, ttl_s=900)
    checks = {}
    for start, end in [(0, 420), (420, 1260), (1260, 4200)]:  # checks at 10:07, 10:21, 11:10
        sync = (lambda: shared.push(policy)) if start else None  # none in the first part
        _replay(policy, range(T0 + start, T0 + end, 7), rng, log, sync)
        shared.push(policy)
        keys = [gateway_segment(g, s) for s in policy.segments() for g in policy.names]
        checks[pd.Timestamp(T0 + end, unit="s", tz="UTC")] = (keys, _online(store, keys))
    table = nodes.gateway_stats_table(pd.DataFrame(log), policy.names)
    for instant, (keys, online) in checks.items():
        offline = _as_of(table, instant, keys)
        assert offline["sr_15m"].notna().all() and len(keys) == 9
        pd.testing.assert_frame_equal(online.astype(float), offline.astype(float),
                                      check_exact=False, rtol=1e-9, check_names=False)
    # Feast's own point-in-time join over the batch table gives the same values
    write_parquet_atomic(table, tables_dir(get_settings()) / GATEWAY_STATS_TABLE)
    instant, (keys, online) = list(checks.items())[1]
    just_before = instant - pd.Timedelta(microseconds=1)  # the minute before `instant`
    entity = pd.DataFrame({"gateway_segment": keys, "event_timestamp": just_before})
    hist = store.get_historical_features(
        entity_df=entity, features=store.get_feature_service(FEATURE_SERVICE)).to_df()
    hist = hist.set_index("gateway_segment").reindex(keys)[list(FEATURES)]
    pd.testing.assert_frame_equal(hist.astype(float), online[list(FEATURES)].astype(float),
                                  check_exact=False, rtol=1e-9, check_names=False)


def test_a_failed_push_loses_no_statistics(store):
    policy, rng, log = RouterPolicy(small_config(), seed=4), np.random.default_rng(4), []
    down = SharedStats(lambda: (_ for _ in ()).throw(ConnectionError("feast down")),
                       policy.names, ttl_s=900)
    up = SharedStats(lambda: store, policy.names, ttl_s=900)
    _replay(policy, range(T0, T0 + 600, 11), rng, log, lambda: up.push(policy))
    with pytest.raises(ConnectionError):
        down.push(policy)
    # 40 minutes of outcomes in one segment only, then a push: the rows the failed
    # push held are written as of their own last outcomes (the windows have moved on)
    ctx = CONTEXTS[0]
    for t in range(T0 + 600, T0 + 3000, 30):
        d = policy.decide(ctx, policy.eligible_for(ctx), now_s=float(t))
        policy.learn(d.decision_id, {"success": True, "latency_ms": 200.0})
        log.append({"timestamp": datetime.fromtimestamp(t, timezone.utc),
                    "gateway": d.gateway, "segment": d.record["segment"], "success": True,
                    "latency_ms": 200.0})
    assert up.push(policy) > 0
    keys = [gateway_segment(g, s) for s in policy.segments() for g in policy.names]
    offline = _as_of(nodes.gateway_stats_table(pd.DataFrame(log), policy.names),
                     pd.Timestamp(T0 + 3000, unit="s", tz="UTC"), keys)
    pd.testing.assert_frame_equal(_online(store, keys).astype(float), offline.astype(float),
                                  check_exact=False, rtol=1e-9, check_names=False)
    assert up.push(policy) == 0  # and nothing twice


def test_decisions_are_computed_from_the_statistics_read_from_feast(store):
    policy, rng, log = RouterPolicy(small_config(), seed=5), np.random.default_rng(5), []
    _replay(policy, range(T0, T0 + 300, 5), rng, log)
    clock = [0.0]
    shared = SharedStats(lambda: store, policy.names, ttl_s=900, clock=lambda: clock[0])
    policy.router.shared = shared
    ctx = CONTEXTS[0]
    segment = policy.decide(ctx, policy.eligible_for(ctx), now_s=T0 + 300.0).record["segment"]
    # Another router process's view of stripe in this segment, written to the store
    row = {"gateway_segment": gateway_segment("stripe", segment),
           "event_timestamp": datetime.fromtimestamp(T0 + 300, timezone.utc),
           "sr_15m": 0.123, "sr_1h": 0.234, "sr_24h": 0.345, "latency_1h_s": 2.5,
           "attempts_1h": 40}
    write_rows(store, views_of(store, PUSH_SOURCE), [row])
    own = policy.decide(ctx, policy.eligible_for(ctx), now_s=T0 + 301.0)
    shared.refresh(policy.segments())
    read = policy.decide(ctx, policy.eligible_for(ctx), now_s=T0 + 302.0)
    stripe = policy.names.index("stripe")
    assert own.record["stats"][stripe] != [0.123, 0.234, 0.345, 2.5]
    assert read.record["stats"][stripe] == [0.123, 0.234, 0.345, 2.5]
    assert "s15:0.1230" in policy.router.last[3][1 + stripe]  # the VW example read it
    clock[0] = 901.0  # not refreshed within the TTL: the router's own rows again
    stale = policy.decide(ctx, policy.eligible_for(ctx), now_s=T0 + 303.0)
    assert stale.record["stats"][stripe] == own.record["stats"][stripe]


def test_a_restored_router_pushes_every_segment_it_holds_again():
    policy, rng = RouterPolicy(small_config(), seed=6), np.random.default_rng(6)
    _replay(policy, range(T0, T0 + 300, 5), rng, [])
    rows, batch = policy.take_rows()
    policy.confirm(batch)
    assert policy.take_rows()[0] == []  # unchanged rows are not pushed again
    restored = RouterPolicy.from_snapshot(policy.cfg, policy.snapshot())
    again, _ = restored.take_rows()
    assert again == rows
