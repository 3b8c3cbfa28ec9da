"""Fixtures for the serving tests: the stand-in harness for the session, and an app
client composed by the one composition root like `PaymentAPI`, in-process (real
FraudScorer/GatewayRouter service objects, real gateway adapters on localstripe, the
Amazon Pay sandbox and a Solana JSON-RPC node)."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from serving.security import issue_token
from smartpay.settings import get_settings

TEST_BACKENDS = {
    "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
    "SMARTPAY_SERVING__ROUTER_BACKEND": "serving.backends_real:champion_router",
    # the tiny backend reads no Feast features (tests/serving/test_fresh_features.py
    # turns the pushes on)
    "SMARTPAY_SERVING__FRESH_FEATURES": "false",
}


@pytest.fixture(scope="session")
def standins(tmp_path_factory):
    """The harness's stand-ins for the whole session; their env variables."""
    from harness.standins import running_standins

    with running_standins(tmp_path_factory.mktemp("standins")) as env:
        yield env


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory) -> str:
    """One empty MLflow store for the session (creating one costs seconds): the router
    finds no champion there and starts from the fresh default policy."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def serving_env(standins, tracking_uri, data_dir, monkeypatch):
    """Point settings and serving config at the stand-ins and the test backends."""
    for k, v in {**standins, **TEST_BACKENDS,
                 "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SMARTPAY_SERVING__RATE_LIMIT_PER_S", "100000")
    monkeypatch.setenv("SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S", "100000")
    yield monkeypatch


def token(merchant: str = "m1", scopes=("payments:write", "payments:read"), **kw) -> str:
    return issue_token(get_settings().jwt_secret.get_secret_value(), merchant,
                       list(scopes), **kw)


def auth(merchant: str = "m1", scopes=("payments:write", "payments:read"), key=None) -> dict:
    h = {"Authorization": f"Bearer {token(merchant, scopes)}"}
    return h | ({"Idempotency-Key": key} if key else {})


def pay_body(**over) -> dict:
    body = {"amount_minor": 2_500, "currency": "USD", "customer_id": 7, "terminal_id": 11,
            "card_id": 14, "tx_epoch_s": 1_795_000_000, "channel": "ecommerce",
            "payment_method": {"type": "card", "token": "pm_card_visa"}}
    return body | over


def rewarded(get, payment_id: str, timeout_s: float = 20.0) -> dict:
    """The payment once its reward is written: `/pay` answers `minting` and the minter
    beside it writes the reward. `get(path)` returns a GET's JSON."""
    deadline = time.monotonic() + timeout_s
    while True:
        p = get(f"/payments/{payment_id}")
        if p.get("reward") or time.monotonic() > deadline:
            return p
        time.sleep(0.05)


@contextmanager
def app_client(gateways=None, scorer=None, **overrides):
    """A TestClient over `create_app` with the PaymentAPI composition built in-process
    (around `scorer`, a `FraudScorer` the test holds, when given)."""
    from serving.app import create_app
    from serving.services import FraudScorer, GatewayRouter, _FraudPort, _RouterPort
    from serving.composition import build_runtime

    fraud = _FraudPort(scorer if scorer is not None else FraudScorer())
    router = _RouterPort(GatewayRouter())

    async def factory():
        gws = gateways() if callable(gateways) else gateways
        if hasattr(gws, "__await__"):
            gws = await gws
        return await build_runtime(get_settings(), fraud=fraud, router=router,
                                   gateways=gws or None, **overrides)

    with TestClient(create_app(factory)) as client:
        yield client


@pytest.fixture
def client(serving_env):
    with app_client() as c:
        yield c
