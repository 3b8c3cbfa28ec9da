"""Router pipeline nodes on small in-memory data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.router.stats import ROW, WindowStats, gateway_segment
from pipelines.router import nodes
from tests.models.router.helpers import run, small_config, synthetic_contexts, world_for


def _replayed(policy_name: str = "random"):
    cfg = small_config()
    ctx, world = world_for(synthetic_contexts(90, 6), cfg)
    ctx["log_amount"] = np.log10(np.maximum(ctx["amount_usd"], 0.5))
    ctx["transaction_id"] = np.arange(len(ctx))
    dec = nodes.run_policy(policy_name, ctx, world, cfg, draws=_draws(len(ctx), cfg), seed=1)
    return cfg, ctx, world, dec


def _draws(n, cfg):
    from models.router.replay import common_randoms

    return common_randoms(n, len(cfg.gateways), 5)


def test_decision_log_keeps_context_choice_propensity_ranking_and_features():
    cfg, ctx, world, dec = _replayed()
    log = nodes.decision_log(ctx, dec, world, cfg)
    assert len(log) == len(ctx)
    assert {"gateway", "propensity", "ranking", "success", "decline_code", "card_network"} <= set(log.columns)
    assert np.allclose(log["propensity"], 1.0 / world.eligible.sum(axis=1), atol=1e-6)
    assert all(g in r.split(">") for g, r in zip(log["gateway"], log["ranking"]))
    assert (log.loc[~log["success"], "decline_code"] != "").all()
    assert "stripe__sr_15m" in log.columns


def test_regret_is_zero_for_the_oracle_and_positive_for_random():
    cfg, ctx, world, dec = _replayed()
    m = nodes.policy_metrics(dec, world)
    assert m["regret"] > 0 and 0 < m["auth_rate"] <= 1 and m["fee_per_success"] > 0
    oracle = type(dec)(**{**dec.__dict__, "action": np.where(world.eligible, world.p_success, -1).argmax(1)})
    assert nodes.policy_metrics(oracle, world)["regret"] == 0


def test_best_fixed_gateway_per_segment_is_between_random_and_oracle():
    cfg, ctx, world, dec = _replayed()
    best = nodes.best_fixed_per_segment(ctx, world)
    assert nodes.expected_success(dec, world).mean() < best <= nodes.oracle_success(world).mean() + 1e-9


def test_offline_gateway_stats_are_the_online_trackers_rows_at_the_end_of_each_minute():
    cfg, ctx, world, dec = _replayed()
    log = nodes.decision_log(ctx, dec, world, cfg)
    names = cfg.gateway_names
    table = nodes.gateway_stats_table(log, names).set_index(["gateway_segment", "event_timestamp"])
    stats, t0, ends = WindowStats(len(names)), log["timestamp"].min().normalize(), {}
    for ts, g, seg, ok, lat in zip(log["timestamp"], log["gateway"], log["segment"],
                                   log["success"], log["latency_ms"]):
        stats.advance(int((ts - t0).total_seconds() // 60))
        sid = stats.segment_id(seg)
        stats.record(names.index(g), sid, ok, lat)
        for k, row in enumerate(stats.rows(sid)):  # every gateway of the segment
            ends[(gateway_segment(names[k], seg), ts.floor("min"))] = row
    expected = pd.DataFrame(list(ends.values()), columns=list(ROW),
                            index=pd.MultiIndex.from_tuples(list(ends)))
    assert len(table) == len(expected) > 3 * len(names) * 90
    got = table.loc[expected.index, list(ROW)].to_numpy(float)
    assert np.allclose(got, expected.to_numpy(float), rtol=1e-12)


def test_risk_proxy_separates_frauds_from_genuine_payments():
    tx = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=2000, freq="min"),
                       "is_fraud": np.r_[np.zeros(1900, int), np.ones(100, int)]})
    out = nodes.add_risk_proxy(tx, seed=0)
    assert out["risk_score"].between(0, 1).all()
    assert out.loc[out.is_fraud == 1, "risk_score"].mean() > out.loc[out.is_fraud == 0, "risk_score"].mean() + 0.4


def test_baselines_judged_on_a_log_give_eligible_distributions_and_the_rule_its_cheapest():
    cfg, ctx, world, dec = _replayed()
    log = nodes.decision_log(ctx, dec, world, cfg)
    pmfs = nodes.baseline_pmfs(log, cfg, seed=3)
    assert set(pmfs) == set(nodes.BASELINES)
    elig = log[[f"elig__{g}" for g in cfg.gateway_names]].to_numpy(bool)
    fee = log[[f"fee__{g}" for g in cfg.gateway_names]].to_numpy(float)
    for pmf in pmfs.values():
        assert np.allclose(pmf.sum(axis=1), 1.0) and not (pmf[~elig] > 0).any()
    cheapest = np.where(elig, fee, np.inf).argmin(axis=1)
    assert (pmfs["static_rule"].argmax(axis=1) == cheapest).all()
    # Sliding-window SR learns from the logged outcomes: it ends on the gateway that
    # succeeded most for the segment, which the uniform logging policy does not.
    assert pmfs["sliding_window_sr"].max(axis=1).mean() > 0.6


def test_baselines_judged_from_a_start_row_carry_what_the_earlier_rows_taught_them():
    cfg, ctx, world, dec = _replayed()
    log = nodes.decision_log(ctx, dec, world, cfg)
    start = len(log) * 2 // 3
    warm = nodes.baseline_pmfs(log, cfg, seed=3, start=start)
    whole = nodes.baseline_pmfs(log, cfg, seed=3)
    cold = nodes.baseline_pmfs(log.iloc[start:].reset_index(drop=True), cfg, seed=3)
    for name in nodes.BASELINES:
        assert warm[name].shape == (len(log) - start, len(cfg.gateways))
        assert np.array_equal(warm[name], whole[name][start:])
    # a sliding window started cold on the later rows routes differently at first
    assert not np.array_equal(warm["sliding_window_sr"], cold["sliding_window_sr"])


def test_through_api_leaves_out_unpayable_rows_from_contexts_world_and_draws_alike():
    from pipelines.router.pipeline import RouterParams, build
    from pipelines.router.through_api import payable

    rp = build(RouterParams(days=1, customers=200, terminals=200, seed=3))
    rp.ctx.loc[[0, 5], "amount_minor"] = 0
    ctx, world, draws, left_out = payable(rp.ctx, rp.world, rp.draws)
    assert left_out == 2 and len(ctx) == len(rp.ctx) - 2 == len(world.p_success)
    assert (world.p_success[4] == rp.world.p_success[6]).all()
    assert (draws[0][4] == rp.draws[0][6]).all() and draws[1][4] == rp.draws[1][6]
    assert ctx["transaction_id"].iloc[4] == rp.ctx["transaction_id"].iloc[6]
