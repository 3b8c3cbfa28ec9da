"""Behaviour of every routing policy on the small test world."""

from __future__ import annotations

import numpy as np
import pytest

from models.router.policies import RandomPolicy, SlidingWindowSR, StaticFeeRule, Thompson
from models.router.vw_policy import VWRouter
from tests.models.router.helpers import run, small_config, synthetic_contexts, world_for


def _policies(cfg):
    k, o = len(cfg.gateways), cfg.router
    return [StaticFeeRule(), RandomPolicy(), SlidingWindowSR(k, o.sr_window, o.sr_hedge, o.elimination),
            Thompson(k, o.thompson_discount, np.random.default_rng(0)), VWRouter(cfg.gateway_names, o)]


@pytest.fixture(scope="module")
def setup():
    cfg = small_config()
    ctx, world = world_for(synthetic_contexts(60, 10), cfg)
    return cfg, ctx, world


@pytest.mark.parametrize("index", range(5))
def test_propensities_sum_to_one_and_match_the_chosen_gateway(setup, index):
    cfg, ctx, world = setup
    policy = _policies(cfg)[index]
    seen = []

    class Spy:
        name = policy.name

        def pmf(self, p):
            pmf = policy.pmf(p)
            seen.append(pmf)
            return pmf

        def update(self, *args):
            policy.update(*args)

    dec = run(Spy(), ctx, world, cfg)
    pmfs = np.array(seen)
    assert np.allclose(pmfs.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(pmfs[~world.eligible] == 0), "an ineligible gateway got probability"
    assert np.allclose(dec.prob, pmfs[np.arange(len(pmfs)), dec.action], atol=1e-6)
    assert world.eligible[np.arange(len(dec.action)), dec.action].all()


def test_every_decision_records_the_full_ranking_of_eligible_gateways(setup):
    cfg, ctx, world = setup
    dec = run(RandomPolicy(), ctx, world, cfg)
    for i in range(0, len(dec.action), 97):
        ranked = dec.ranking[i][dec.ranking[i] >= 0]
        assert sorted(ranked) == list(np.flatnonzero(world.eligible[i]))


def test_static_rule_always_takes_the_cheapest_eligible_gateway(setup):
    cfg, ctx, world = setup
    dec = run(StaticFeeRule(), ctx, world, cfg)
    fee = np.where(world.eligible, world.fee_minor / ctx["amount_minor"].to_numpy()[:, None], np.inf)
    assert np.array_equal(dec.action, fee.argmin(axis=1))


@pytest.mark.parametrize("name", ["sliding_window_sr", "vw"])
def test_a_gateway_in_outage_loses_its_traffic_within_the_elimination_window(name):
    cfg = small_config()  # stripe (best) collapses globally from 03:00 to 05:00
    ctx, world = world_for(synthetic_contexts(300, 12, seed=4), cfg, seed=4)
    k, o = len(cfg.gateways), cfg.router
    policy = (SlidingWindowSR(k, o.sr_window, o.sr_hedge, o.elimination) if name != "vw"
              else VWRouter(cfg.gateway_names, o))
    dec = run(policy, ctx, world, cfg)
    minute = ((ctx["timestamp"] - ctx["timestamp"].min().normalize()).dt.total_seconds() // 60).to_numpy()
    stripe = dec.action == cfg.gateway_names.index("stripe")
    before = stripe[(minute >= 120) & (minute < 180)].mean()
    window = o.elimination.window_minutes
    during = stripe[(minute >= 180 + window) & (minute < 300)].mean()
    assert before > 0.5, f"stripe should lead before the outage, had {before:.2f}"
    assert during < 0.1, f"stripe kept {during:.2%} of traffic {window} min into its outage"
