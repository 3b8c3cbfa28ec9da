"""The router service's Feast sync: it pushes the served router's statistics, makes its
decisions read the shared ones, and survives a store that is down."""

from __future__ import annotations

import logging

import pytest

from features.store import open_store
from models.router.policy import RouterPolicy
from models.router.serve import ChampionRouter
from models.router.shared_stats import SharedStats
from pipelines.features.pipeline import apply
from serving.router_stats import StatsSync
from smartpay.settings import get_settings
from tests.models.router.helpers import small_config

CTX = dict(card_network="visa", issuing_country="US", currency="USD", amount_minor=2_500,
           merchant_category="grocery", channel="ecommerce", hour=10, risk_score=0.05)


def _served(now_s: float = 1_709_287_200.0) -> ChampionRouter:
    router = ChampionRouter(RouterPolicy(small_config(), seed=1), "test")
    d = router.decide_logged(CTX, ["stripe", "solana"], now_s=now_s)
    router.learn(d.decision_id, {"success": True, "latency_ms": 300.0})
    return router


def test_a_sync_pushes_the_served_rows_and_decisions_then_read_the_shared_ones(data_dir):
    apply(get_settings())
    store = open_store(get_settings())
    router = _served()
    sync = StatsSync(lambda: router, SharedStats(lambda: store, [], ttl_s=900), every_s=0)
    assert sync.sync()
    assert router.policy.router.shared is sync.shared and sync.shared.pushed == 3
    segment = router.policy.segments()[0]
    assert sync.shared.features(segment) == pytest.approx(
        router.policy.router.stats.features(1), rel=1e-12)


def test_a_store_that_is_down_is_logged_once_and_its_rows_wait(caplog):
    router = _served()

    def down():
        raise ConnectionError("feast down")

    sync = StatsSync(lambda: router, SharedStats(down, [], ttl_s=900), every_s=0)
    with caplog.at_level(logging.WARNING, logger="smartpay.router_stats"):
        assert not sync.sync() and not sync.sync()
    assert len(caplog.records) == 1
    rows, _ = router.policy.take_rows()
    assert len(rows) == 3  # still waiting for a push


@pytest.mark.parametrize("backend", [None, object()])
def test_a_backend_without_a_vw_policy_is_left_alone(backend):
    sync = StatsSync(lambda: backend, SharedStats(lambda: None, [], ttl_s=900), every_s=0)
    assert not sync.sync()
