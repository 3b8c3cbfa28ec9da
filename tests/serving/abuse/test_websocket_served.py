"""Finding 10 through a real `bentoml serve` (uvicorn, where events take the direct
transport path): the close frames arrive with their codes on the wire."""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.serving.conftest import TEST_BACKENDS, auth, pay_body, token

pytestmark = pytest.mark.slow


def _close_code(ws) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(1_000):
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None, "dropped without a close frame"
    return closed.value.rcvd.code


def test_served_websockets_close_with_1008_at_expiry_and_1003_1007_on_junk(
        data_dir, tracking_uri):
    from harness.standins import running_local_service

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    env = {**TEST_BACKENDS, "PYTHONPATH": root,
           "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri}
    with running_local_service(data_dir, extra_env=env) as url:
        ws_url = url.replace("http", "ws") + "/ws?token="
        for junk, code in ((b"\x00binary", 1003), ("{not json", 1007)):
            with connect(ws_url + token("m1")) as ws:
                assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
                ws.send(junk)
                assert _close_code(ws) == code
        with connect(ws_url + token("m1", ttl_s=2)) as ws:
            t0 = time.monotonic()
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            for i in range(3):
                r = httpx.post(f"{url}/pay", json=pay_body(), headers=auth(key=f"w{i}"),
                               timeout=30)
                assert r.status_code == 200, r.text
            assert _close_code(ws) == 1008
            assert time.monotonic() - t0 < 6
