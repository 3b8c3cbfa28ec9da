"""Once through a real `bentoml serve` (three services, stand-ins), torn down after."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
from websockets.sync.client import connect

from tests.serving.conftest import TEST_BACKENDS, auth, pay_body, token

pytestmark = pytest.mark.slow


def test_bentoml_serve_runs_the_composed_flow_and_serves_metrics(data_dir, tracking_uri):
    from harness.standins import running_local_service

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**TEST_BACKENDS, "PYTHONPATH": root, "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri}
    with running_local_service(data_dir, extra_env=env) as url:
        ws_url = url.replace("http", "ws") + f"/ws?token={token('m1')}"
        with connect(ws_url) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            r = httpx.post(f"{url}/pay", json=pay_body(), headers=auth(key="serve-1"),
                           timeout=30)
            kinds = {json.loads(ws.recv(timeout=10))["type"] for _ in range(2)}
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "captured" and r.json()["reward"]["status"] == "minting"
        got = httpx.get(f"{url}/payments/{r.json()['payment_id']}", headers=auth(),
                        timeout=10).json()
        assert got["reward"]["status"] == "escrowed"  # its reward_minted event came
        assert kinds == {"payment_processed", "reward_minted"}
        declined = httpx.post(f"{url}/pay", json=pay_body(amount_minor=900_000),
                              headers=auth(key="serve-2"), timeout=30).json()
        assert declined["status"] == "declined"
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert "smartpay_payments_total" in metrics and "smartpay_request_seconds" in metrics
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
        # the router service's decision record crossed HTTP into the API's ledger
        rows = asyncio.run(_decisions())
        assert [d["payment_id"] for d in rows] == [r.json()["payment_id"]]
        assert rows[0]["record"]["shared"].startswith("shared |s")
        assert rows[0]["success"] is True


async def _decisions() -> list[dict]:
    from serving.composition import open_ledger
    from smartpay.settings import get_settings

    ledger = await open_ledger(get_settings())
    try:
        return await ledger.decisions()
    finally:
        await ledger.close()
