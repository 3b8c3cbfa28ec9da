"""Two API workers and two router workers under a real `bentoml serve`, prod profile:
a payment's events reach WebSocket clients held by either API worker, and every
routed payment's outcome is learned whichever router worker it reaches."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
from websockets.sync.client import connect

from serving.security import issue_token
from tests.pg import scratch_database
from tests.serving.conftest import pay_body

pytestmark = [pytest.mark.prod, pytest.mark.slow]
SECRET = "workers-test-secret-0123456789abcdef0123456789"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
ROUTE = {"amount_minor": 2_500, "currency": "USD", "card_network": "visa"}


def _env(standins: dict, db: str, prefix: str, tracking: str) -> dict[str, str]:
    env = {k: v for k, v in standins.items() if not k.endswith("SANDBOX_HOOKS")}
    return env | {
        "SMARTPAY_PROFILE": "prod", "SMARTPAY_POSTGRES_URL": db,
        "SMARTPAY_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SMARTPAY_SERVING__REDIS_PREFIX": prefix, "SMARTPAY_JWT_SECRET": SECRET,
        "SMARTPAY_STRIPE_API_KEY": "sk_test_workers",
        "SMARTPAY_MLFLOW_TRACKING_URI": tracking,
        "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
        "SMARTPAY_SERVING__FRESH_FEATURES": "false",
        "SMARTPAY_SERVING__ASSISTANT": "false",
        "SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
        "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000", "PYTHONPATH": ROOT,
    }


def _api_pids(proc) -> set[int]:
    from serving.launcher import service_processes

    return {p.pid for p in service_processes(proc)
            if "payment_api" in " ".join(p.cmdline())}


def _holder(api_pids: set[int], ws) -> int | None:
    """The API worker holding a client socket (by the client's local port)."""
    import psutil

    port = ws.socket.getsockname()[1]
    for pid in api_pids:
        for c in psutil.Process(pid).net_connections(kind="tcp"):
            if c.raddr and c.raddr.port == port:
                return pid
    return None


def _sockets_on_both_workers(url: str, api_pids: set[int], tok: str) -> list:
    """Connect clients until both API workers hold some (the kernel picks)."""
    socks, holders = [], set()
    while len(holders) < 2 and len(socks) < 64:
        ws = connect(url.replace("http", "ws") + f"/ws?token={tok}")
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        socks.append(ws)
        holders.add(_holder(api_pids, ws))
    assert holders == api_pids, f"clients landed on {holders} of {api_pids}"
    return socks


async def _routes_and_outcomes(url: str, tok: str, n: int) -> list[dict]:
    h = {"Authorization": f"Bearer {tok}"}

    async def one(i: int) -> dict:
        async with httpx.AsyncClient(timeout=30) as c:  # a connection each: any worker
            d = (await c.post(f"{url}/route", json=ROUTE | {"amount_minor": 1_000 + i},
                              headers=h)).json()
            path = f"{url}/route/{d['decision_id']}/outcome"
            r = await c.post(path, headers=h, json={
                "gateway": d["gateway"], "success": True, "latency_ms": 100.0,
                "amount_minor": 1_000 + i, "currency": "USD"})
            return r.json()

    return await asyncio.gather(*(one(i) for i in range(n)))


def test_two_api_and_router_workers_share_events_and_router_outcomes(
        prod_server, standins, tmp_path):
    import uuid

    from mlflow.tracking import MlflowClient

    from serving.launcher import start_service, stop_service

    pg, _ = prod_server("postgres"), prod_server("redis")
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking).search_experiments(max_results=1)  # no migration race
    tok = issue_token(SECRET, "m1", ["payments:write", "payments:read"], 3600)
    with scratch_database(*pg) as db:
        env = _env(standins, db, f"workers{uuid.uuid4().hex[:8]}", tracking)
        proc, url = start_service(extra_env=env, log_path=tmp_path / "serve.log",
                                  workers={"api": 2, "router": 2})
        try:
            socks = _sockets_on_both_workers(url, _api_pids(proc), tok)
            paid = httpx.post(f"{url}/pay", json=pay_body(), timeout=30, headers={
                "Authorization": f"Bearer {tok}", "Idempotency-Key": "w-1"}).json()
            got = []
            for ws in socks:
                kinds = set()
                while "payment_processed" not in kinds:
                    kinds.add(json.loads(ws.recv(timeout=15))["type"])
                got.append(kinds)
                ws.close()
            acks = asyncio.run(_routes_and_outcomes(url, tok, 24))
        finally:
            stop_service(proc)
    assert paid["status"] == "captured"
    assert all("payment_processed" in k for k in got) and len(got) >= 2
    assert [a for a in acks if not a["learned"]] == []
