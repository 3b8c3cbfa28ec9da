"""`smartpay evaluate router --through-api` against a real `bentoml serve`: a simulated
day routed by the served router (/route, then each outcome reported back; its gateway
statistics pushed to Feast and read back), compared with the offline replay of the
same fresh VW policy on the same eligible sets and draws; and a restart in the middle
of the day that carries on from the checkpoint."""

from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from tests.serving.conftest import TEST_BACKENDS

pytestmark = pytest.mark.slow

CUSTOMERS = 300  # about 600 payments in the day


def _env(standins, tracking_uri) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {**standins, **TEST_BACKENDS, "PYTHONPATH": root,
            "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri,
            "SMARTPAY_SERVING__ROUTER_EVENT_TIME": "true",
            "SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
            "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000"}


def test_a_served_day_matches_the_offline_replay_and_survives_a_restart(standins,
                                                                       data_dir, tmp_path):
    from cli.main import app
    from cli.router_api_cmds import through_api_day
    from features.store import open_store
    from models.router.config import load_config
    from pipelines.features.pipeline import apply
    from serving.launcher import start_service, stop_service
    from smartpay.settings import get_settings

    apply(get_settings())  # the router shares its gateway statistics through Feast
    env = {**_env(standins, f"sqlite:///{tmp_path / 'mlflow.db'}"),
           "SMARTPAY_SERVING__ROUTER_STATS_SYNC_S": "0.5"}
    log = tmp_path / "serve.out"
    proc, url = start_service(extra_env=env, log_path=log)
    try:
        res = CliRunner().invoke(app, ["evaluate", "router", "--through-api", "--url", url,
                                       "--customers", str(CUSTOMERS), "--json"])
        assert res.exit_code == 0, res.output
        day = json.loads(res.output.strip().splitlines()[-1])
    finally:
        stop_service(proc)  # its last Feast sync runs at shutdown
    assert day["compared"] and day["learned"] == day["payments"] > 400
    assert "Feast sync failed" not in log.read_text()
    store = open_store(get_settings())
    keys = [{"gateway_segment": f"{g}|visa:US:ecommerce"}  # its last outcome is in
            for g in load_config().gateway_names]              # one gateway's hour
    pushed = store.get_online_features(features=store.get_feature_service("routing_v1"),
                                       entity_rows=keys).to_dict()
    assert None not in pushed["sr_24h"] and sum(pushed["attempts_1h"]) > 0
    # the same policy on the same day: the difference is within noise
    assert abs(day["difference_pp"]) <= 4 * day["difference_se_pp"] + 0.5, day
    assert day["served_auth_rate"] > day["oracle_auth_rate"] - 0.1
    ope = day["ope"]  # the served log's held-out third, every target with its truth
    assert set(ope["policies"]) == {"vw_challenger", "static_rule", "sliding_window_sr",
                                    "thompson"}
    assert ope["held_out"] == day["payments"] - int(day["payments"] * 2 / 3)
    assert all(0 < e["truth"] < 1 for e in ope["policies"].values())
    # each target also gets DR with its weights capped, and its error against the truth
    assert set(ope["dr_clipped_error_pp"]) == set(ope["policies"])
    assert all(e["dr_clipped_ci"][0] <= e["dr_clipped"] <= e["dr_clipped_ci"][1]
               and 0 <= e["clipped_share"] <= 1 for e in ope["policies"].values())

    # a second server on a new store: the restart at half-day stops it (checkpoint at
    # shutdown) and starts it again, which must carry on from that checkpoint
    env = _env(standins, f"sqlite:///{tmp_path / 'mlflow2.db'}")
    port = int(url.rsplit(":", 1)[1])
    state = {}
    state["proc"], url = start_service(port, extra_env=env, log_path=log)

    async def restart() -> None:
        import asyncio

        await asyncio.to_thread(stop_service, state["proc"])
        state["proc"], _ = await asyncio.to_thread(start_service, port, env, log)

    from cli.router_api_cmds import local_token

    try:
        again = through_api_day(url, local_token(), CUSTOMERS, 1, restart_at=0.5,
                                restart=restart)
    finally:
        stop_service(state["proc"])
    assert again["restarts"] == 1 and again["learned"] == again["payments"]
    carried = [int(n) for n in re.findall(r"carries on from its checkpoint at (\d+) outcomes",
                                          log.read_text())]
    assert carried == [again["payments"] // 2]
    assert abs(again["served_auth_rate"] - day["served_auth_rate"]) < 0.05


def test_through_api_names_a_missing_or_bad_url(data_dir):
    from cli.main import app

    for args in ([], ["--url", "localhost:3000"]):
        res = CliRunner().invoke(app, ["evaluate", "router", "--through-api", *args])
        assert res.exit_code == 2 and "--url" in res.output, res.output
