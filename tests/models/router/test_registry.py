"""MLflow registry of `gateway-router`: aliases, the promotion gate, loading back."""

from __future__ import annotations

import mlflow
import pytest

from models.router import load_policy, registry
from models.router.ope import Estimate
from models.router.policy import RouterPolicy
from models.router.serve import load_champion
from smartpay.settings import get_settings
from tests.models.router.helpers import small_config


def test_the_gate_refuses_a_challenger_whose_lower_bound_is_below_the_champion():
    assert not registry.gate(Estimate(0.93, 0.925, 0.935, 1000), champion_value=0.928)


def test_the_gate_promotes_a_challenger_clearly_above_the_champion():
    assert registry.gate(Estimate(0.95, 0.945, 0.955, 1000), champion_value=0.93)


def test_a_challenger_below_a_baseline_policy_is_refused_even_without_a_champion():
    baselines = {"static_rule": 0.90, "sliding_window_sr": 0.936, "thompson": 0.93}
    assert not registry.gate(Estimate(0.94, 0.934, 0.946, 9000), None, baselines)
    assert registry.gate(Estimate(0.945, 0.937, 0.953, 9000), None, baselines)


def test_the_gate_needs_both_the_champion_and_the_baselines_beaten():
    assert not registry.gate(Estimate(0.95, 0.94, 0.96, 9000), 0.945, {"thompson": 0.93})
    assert not registry.gate(Estimate(0.95, 0.94, 0.96, 9000), 0.93, {"thompson": 0.945})


def test_the_first_challenger_becomes_champion():
    assert registry.gate(Estimate(0.5, 0.1, 0.9, 10), champion_value=None)


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    cfg = small_config()
    policy = RouterPolicy(cfg)
    reg = registry.RouterRegistry(uri)
    v1 = reg.log_and_register(policy.checkpoint(), cfg, {"cb_type": "mtr"}, {"dr": 0.93})
    reg.promote(v1, True)
    return uri, cfg, v1


def test_a_worse_challenger_is_registered_but_the_champion_alias_stays(registered):
    uri, cfg, v1 = registered
    reg = registry.RouterRegistry(uri)
    v2 = reg.log_and_register(RouterPolicy(cfg).checkpoint(), cfg, {}, {"dr": 0.92})
    reg.promote(v2, registry.gate(Estimate(0.92, 0.915, 0.925, 5000), 0.93))
    client = mlflow.MlflowClient(uri)
    assert str(client.get_model_version_by_alias(registry.MODEL_NAME, "champion").version) == v1
    assert str(client.get_model_version_by_alias(registry.MODEL_NAME, "challenger").version) == v2


def test_serving_loads_the_champion_with_its_config(registered):
    uri, cfg, v1 = registered
    policy = load_policy("champion", uri)
    assert policy.names == cfg.gateway_names
    router = load_champion(uri)
    gateway, prob, ranking, decision_id = router.decide(
        dict(card_network="visa", issuing_country="DE", currency="EUR", amount_minor=1200,
             merchant_category="grocery", channel="ecommerce", hour=9), ["stripe", "acquirer_x"])
    assert gateway in ranking and 0 < prob <= 1 and router.version.endswith(v1)
    router.learn(decision_id, {"success": True, "latency_ms": 210.0})


def test_without_a_champion_serving_gets_a_fresh_default_policy(data_dir):
    router = load_champion(get_settings().tracking_uri)
    assert router.version == "fresh-vw" and "stripe" in router.names


def test_the_pyfunc_model_routes_rows(registered, monkeypatch):
    uri, cfg, v1 = registered
    # As a user would load it: MLflow's own resolution of `models:/name@alias`.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}@champion")
    import pandas as pd

    out = model.predict(pd.DataFrame([dict(card_network="visa", issuing_country="US", currency="USD",
                                           amount_minor=500, merchant_category="grocery",
                                           channel="card_present", hour=3)]))
    assert out[0]["gateway"] in {"stripe", "acquirer_x"}
