"""Rewards minted by /pay survive an API restart: after it, `smartpay rewards release`
moves the escrow past its time lock to the user's wallet, while the reward of a payment
refunded before release was clawed back and is not released. Local profile, a real
`bentoml serve`, the harness's Solana node outliving the API process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from serving.security import issue_token
from smartpay.settings import LOCAL_JWT_SECRET
from tests.serving.conftest import pay_body, rewarded

pytestmark = pytest.mark.slow
WINDOW_S = 4


def _env(standins: dict, data: str, tracking: str) -> dict:
    return standins | {
        "SMARTPAY_PROFILE": "local", "SMARTPAY_DATA_DIR": data,
        "SMARTPAY_MLFLOW_TRACKING_URI": tracking,
        "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
        "SMARTPAY_SERVING__FRESH_FEATURES": "false",
        "SMARTPAY_SERVING__ASSISTANT": "false",
        "SMARTPAY_REWARDS__REFUND_WINDOW_S": str(WINDOW_S),
        "SMARTPAY_REWARDS__RELEASE_EVERY_S": "0",  # only the CLI releases here
    }


def _pay(url: str, h: dict, key: str, amount: int, user: str) -> dict:
    r = httpx.post(f"{url}/pay", json=pay_body(amount_minor=amount, user_id=user),
                   headers=h | {"Idempotency-Key": key}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_rewards_minted_before_a_restart_are_released_by_the_cli_after_it(
        tmp_path, tracking_uri):
    from harness.standins import running_standins
    from serving.launcher import running_service

    h = {"Authorization": "Bearer " + issue_token(
        LOCAL_JWT_SECRET, "m1", ["payments:write", "payments:read"], 3600)}
    with running_standins(tmp_path / "harness") as standins:
        env = _env(standins, str(tmp_path / "data"), tracking_uri)
        with running_service(extra_env=env, log_path=tmp_path / "serve.log") as url:
            kept = _pay(url, h, "keep", 5_000, "alice")
            gone = _pay(url, h, "gone", 3_000, "bob")
            assert kept["reward"]["status"] == gone["reward"]["status"] == "minting"
            kept = rewarded(lambda path: httpx.get(url + path, headers=h, timeout=30).json(),
                            kept["payment_id"])
            assert kept["reward"]["status"] == "escrowed"
            # `gone` is refunded at once: minted now if the minter has not got to it yet
            r = httpx.post(f"{url}/payments/{gone['payment_id']}/refund", json={},
                           headers=h | {"Idempotency-Key": "r-gone"}, timeout=30)
            assert r.json()["reward"]["status"] == "clawed_back"
        time.sleep(WINDOW_S + 0.5)
        out = subprocess.run([sys.executable, "-m", "cli.main", "rewards", "release"],
                             env=os.environ | env, capture_output=True, text=True,
                             timeout=180)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "released 1 rewards" in out.stdout, out.stdout
        with running_service(extra_env=env, log_path=tmp_path / "serve.log") as url:
            alice = httpx.get(f"{url}/rewards/alice/balance", headers=h, timeout=30).json()
            bob = httpx.get(f"{url}/rewards/bob/balance", headers=h, timeout=30).json()
    assert alice["balance"] == kept["reward"]["amount"] == 5_000_000 and alice["escrow"] == 0
    assert bob["balance"] == 0 and bob["escrow"] == 0
