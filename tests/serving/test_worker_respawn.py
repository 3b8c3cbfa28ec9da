"""A model worker SIGKILLed under `bentoml serve` comes back, and /pay with it: what the
chaos benchmark (`benchmarks.chaos`) relies on, checked once with a real server."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.serving.conftest import TEST_BACKENDS, auth, pay_body

pytestmark = pytest.mark.slow


def _wait(check, limit_s: float):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    return None


def test_a_killed_fraud_worker_is_replaced_and_payments_go_through_again(
        data_dir, tracking_uri):
    from benchmarks._chaos_faults import _ready, _workers
    from harness.standins import running_standins
    from serving.launcher import start_service, stop_service

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**TEST_BACKENDS, "PYTHONPATH": root, "SMARTPAY_SERVING__ASSISTANT": "false",
           "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri}
    with running_standins(data_dir) as standins:
        proc, url = start_service(extra_env=standins | env)
        try:
            (victim,) = _workers(proc, "fraud")
            victim.kill()
            new = _wait(lambda: [p for p in _workers(proc, "fraud")
                                 if p.pid != victim.pid], 120)
            assert new, "BentoML started no new fraud worker within 120 s"
            assert _wait(lambda: _ready(url), 180), "the API was not ready within 180 s"
            r = httpx.post(f"{url}/pay", json=pay_body(), headers=auth(key="respawn-1"),
                           timeout=60)
            assert r.status_code == 200 and r.json()["status"] == "captured", r.text
        finally:
            stop_service(proc)
