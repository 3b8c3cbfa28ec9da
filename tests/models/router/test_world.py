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
