"""The demo's serving step on a small simulated world (real bentoml serve, stand-ins)."""

from __future__ import annotations

import os

import pytest

from tests.serving.conftest import TEST_BACKENDS

pytestmark = pytest.mark.slow


def test_the_demo_replays_payments_and_reports_approvals_frauds_split_and_latency(
        data_dir, tracking_uri):
    from pipelines.simulate.pipeline import SimulationParams, run
    from serving.demo import run_demo
    from smartpay.settings import get_settings

    run(SimulationParams(customers=200, terminals=400, days=10, seed=5),
        get_settings().path("raw", "transactions.parquet"))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    s = run_demo(n_payments=80, concurrency=8, print_summary=True,
                 extra_env={**TEST_BACKENDS, "PYTHONPATH": root,
                            "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri})
    assert s["payments"] == 80 and s["errors"] == 0
    assert s["approved"] + s["declined_fraud"] + s["declined_other"] + s["failed"] == 80
    assert s["approved"] > 40 and sum(s["gateway_split"].values()) == s["approved"]
    assert s["rewards_minted"] == s["approved"]
    assert s["events"].get("payment_processed") == 80
    assert s["events"].get("fraud_detected", 0) == s["declined_fraud"]
    assert 0 < s["p50_ms"] <= s["p99_ms"]
