"""The gateway world: config schema, realistic default, outages, fees, eligibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.router.config import load_config
from models.router.context import derive, derive_one, PaymentContext, shared_features, shared_features_one
from smartpay.errors import DataFileError, InputError
from tests.models.router.helpers import TEST_CONFIG, small_config, synthetic_contexts, world_for


def test_default_world_has_the_three_named_gateways_and_extra_acquirers():
    names = load_config().gateway_names
    assert {"stripe", "amazon_pay", "solana"} <= set(names) and len(names) >= 4


def test_default_world_authorises_in_the_high_80s_to_mid_90s():
    cfg = load_config()
    base = synthetic_contexts(24 * 60, 1).assign(issuing_country="GB", currency="GBP")
    ctx = pd.concat([synthetic_contexts(24 * 60, 2), base], ignore_index=True)
    _, world = world_for(ctx.assign(risk_score=0.05), cfg)
    rates = [world.p_success[world.eligible[:, k], k].mean() for k in range(len(cfg.gateways))]
    assert all(0.86 <= r <= 0.96 for r in rates), rates


def test_default_outages_last_minutes_to_hours():
    for o in load_config().outages:
        assert 10 <= o.duration_minutes <= 8 * 60


def test_an_outage_collapses_success_only_inside_its_window():
    cfg = small_config()
    ctx, world = world_for(synthetic_contexts(8 * 60, 2), cfg)
    hours = (ctx["timestamp"] - ctx["timestamp"].min().normalize()).dt.total_seconds() / 3600
    inside = ((hours >= 3) & (hours < 5)).to_numpy()
    k = cfg.gateway_names.index("stripe")
    assert world.p_success[inside, k].max() < 0.06
    assert world.p_success[~inside, k].min() > 0.8
    assert set(world.decline_code[inside, k]) == {"91"}


def test_fees_are_percent_plus_fixed_in_minor_units():
    cfg = small_config()
    ctx, world = world_for(synthetic_contexts(1, 3).assign(amount_minor=10_000), cfg)
    assert world.fee_minor[0].tolist() == [330, 100, 210]


def test_gateways_only_take_payments_they_are_eligible_for():
    cfg = small_config()
    ctx, world = world_for(synthetic_contexts(30, 5), cfg)
    k = cfg.gateway_names.index("solana")
    assert np.array_equal(world.eligible[:, k], (ctx["channel"] == "ecommerce").to_numpy())


def test_a_missing_config_file_is_named():
    with pytest.raises(DataFileError, match="nope.yaml"):
        load_config("nope.yaml")


def test_an_outage_on_an_unknown_gateway_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEST_CONFIG.read_text().replace("- {gateway: stripe,", "- {gateway: paypal,"))
    with pytest.raises(InputError, match="paypal"):
        load_config(bad)


def test_serving_and_replay_build_identical_vw_features():
    cfg = load_config()
    ctx = derive(synthetic_contexts(20, 3, seed=9), cfg)
    vectorised = shared_features(ctx)
    for i in range(0, len(ctx), 7):
        row = ctx.iloc[i]
        one = derive_one(PaymentContext.model_validate(row.to_dict()), cfg)
        assert shared_features_one(one) == vectorised[i]


def test_the_regional_world_is_selectable_by_name_and_has_at_least_five_gateways():
    from models.router.config import world_path

    cfg = load_config(world_path("regional"))
    assert len(cfg.gateways) >= 5
    with pytest.raises(InputError, match="world"):
        world_path("atlantis")


def test_the_regional_world_has_category_amount_and_hour_effects_and_faster_drift():
    from models.router.config import world_path

    regional, default = load_config(world_path("regional")), load_config()
    dims = {d for g in regional.gateways.values() for d in g.effects}
    assert {"merchant_category", "hour_band"} <= dims
    slopes = [g.amount_slope for g in regional.gateways.values()]
    assert max(slopes) - min(slopes) >= 0.5
    period = min(g.drift.period_days for g in regional.gateways.values())
    assert period < min(g.drift.period_days for g in default.gateways.values()) / 2


def test_regional_soft_degradations_stay_above_the_elimination_floor():
    from models.router.config import world_path

    cfg = load_config(world_path("regional"))
    soft = [o for o in cfg.outages if o.success_multiplier >= 0.7]
    assert len(soft) >= 10
    cfg = cfg.model_copy(update={"outages": soft})
    ctx, world = world_for(synthetic_contexts(30 * 24 * 60, 1).assign(risk_score=0.05), cfg)
    for k in range(len(cfg.gateways)):
        hit = world.outage[:, k] & world.eligible[:, k]
        if hit.any():
            assert world.p_success[hit, k].mean() > cfg.router.elimination.below + 0.1


def test_in_the_regional_world_the_best_gateway_changes_inside_a_segment():
    from models.router.config import world_path

    cfg = load_config(world_path("regional"))
    base = synthetic_contexts(24 * 60, 1, seed=3).assign(channel="ecommerce", risk_score=0.05)
    ctx = pd.concat([base.assign(merchant_category="travel"),
                     base.assign(merchant_category="digital_goods", amount_minor=500)],
                    ignore_index=True)
    _, world = world_for(ctx, cfg)
    best = np.where(world.eligible, world.p_success, -1).argmax(axis=1)
    n = len(base)
    names = cfg.gateway_names
    assert names[np.bincount(best[:n]).argmax()] != names[np.bincount(best[n:]).argmax()]
