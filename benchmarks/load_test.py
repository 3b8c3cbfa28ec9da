"""Load test of the payment API under `bentoml serve` on this machine (`make load-test`).

Starts the stand-ins and `bentoml serve serving.services:PaymentAPI` on a free port,
then drives an open-loop async client (aiohttp) at fixed rates and prints p50/p95/p99,
throughput and errors per endpoint, plus WebSocket event latency with N clients:

    .venv/bin/python -m benchmarks.load_test [--seconds 10] [--ws-clients 1000]

Targets: /fraud p99 <= 25 ms at 500 RPS; /route p99 <= 10 ms at 500 RPS; /pay p99 <=
150 ms at 100 RPS with zero errors; every event to 1,000 WebSocket clients within
50 ms p99. The load generator shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections import Counter

import aiohttp
import numpy as np

from benchmarks._stats import print_table, row

TARGETS = {"/fraud": (500, 25.0), "/route": (500, 10.0), "/pay": (100, 150.0)}
RUN = uuid.uuid4().hex[:8]  # Idempotency-Keys unique per run (a ledger may be reused)


def _bodies(endpoint: str, n: int, rng: np.random.Generator) -> list[dict]:
    """Distinct transactions (no risk-cache hits); routes vary over a few segments."""
    amounts = rng.integers(100, 20_000, n)
    base = {"currency": "USD", "tx_epoch_s": int(time.time())}
    if endpoint == "/route":
        nets = rng.choice(["visa", "mastercard", "amex", "discover"], n)
        return [{"amount_minor": int(a), "currency": "USD", "card_network": str(c)}
                for a, c in zip(amounts, nets)]
    rows = [base | {"amount_minor": int(a), "customer_id": int(i % 4000),
                    "terminal_id": int(i % 9000), "card_id": int(i % 8000)}
            for i, a in enumerate(amounts)]
    if endpoint == "/pay":
        for r in rows:
            r |= {"channel": "ecommerce",
                  "payment_method": {"type": "card", "token": "pm_card_visa"}}
    return rows


async def _one(session, url, body, headers, lat, errors):
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=body, headers=headers) as resp:
            await resp.read()
            if resp.status != 200:
                errors.append(resp.status)
    except Exception as exc:  # counted, not raised: the table reports them
        errors.append(type(exc).__name__)
    lat.append((time.perf_counter() - t0) * 1000)


async def drive(base: str, endpoint: str, rps: float, seconds: float, headers: dict,
                seed: int = 0) -> dict:
    """Open loop: request i is sent at i/rps seconds whatever the answers do."""
    n = int(rps * seconds)
    bodies = _bodies(endpoint, n, np.random.default_rng(seed))
    lat, errors, tasks = [], [], []
    conn = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=conn) as session:
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            delay = start + i / rps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            h = headers | ({"Idempotency-Key": f"load-{RUN}-{seed}-{i}"} if endpoint == "/pay" else {})
            tasks.append(asyncio.create_task(_one(session, base + endpoint, body, h, lat, errors)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    target_rps, target_p99 = TARGETS[endpoint]
    r = row(f"{endpoint} @{rps:g}/s", np.array(lat), elapsed, target_rps=target_rps,
            errors=len(errors), target_p99_ms=target_p99)
    if errors:
        print(f"{endpoint}: error kinds {dict(Counter(map(str, errors)).most_common(4))}")
    r["meets_target"] = bool(r["p99_ms"] <= target_p99 and (endpoint != "/pay" or not errors))
    return r


async def capacity(base: str, endpoint: str, concurrency: int, seconds: float,
                   headers: dict, seed: int = 3) -> dict:
    """Closed loop: `concurrency` clients back to back; the throughput the box sustains."""
    bodies = _bodies(endpoint, 200_000 if endpoint != "/pay" else 50_000,
                     np.random.default_rng(seed))
    lat, errors, counter = [], [], iter(range(len(bodies)))
    end = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session:
        async def worker():
            while time.perf_counter() < end:
                i = next(counter)
                h = headers | ({"Idempotency-Key": f"cap-{RUN}-{seed}-{i}"} if endpoint == "/pay" else {})
                await _one(session, base + endpoint, bodies[i], h, lat, errors)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return row(f"{endpoint} closed c={concurrency}", np.array(lat), elapsed,
               target_rps="-", errors=len(errors), target_p99_ms="-", meets_target="-")


async def websocket_fanout(base: str, token: str, pay_headers: dict, clients: int,
                           payments: int) -> dict:
    """N clients of one merchant; latency = receipt time - event creation time."""
    ws_url = base.replace("http", "ws") + f"/ws?token={token}"
    lat: list[float] = []
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    socks = []
    for i in range(0, clients, 100):
        socks += await asyncio.gather(*(session.ws_connect(ws_url, heartbeat=None)
                                        for _ in range(min(100, clients - i))))
    for ws in socks:
        await ws.receive()  # "subscribed"
    expected = payments * 2  # payment_processed + reward_minted per captured payment

    async def listen(ws):
        got = 0
        while got < expected:
            msg = await ws.receive(timeout=60)
            now = time.time()
            data = json.loads(msg.data)
            lat.append((now - data["ts"]) * 1000)
            got += 1

    listeners = [asyncio.create_task(listen(ws)) for ws in socks]
    bodies = _bodies("/pay", payments, np.random.default_rng(99))
    t0 = time.perf_counter()
    for i, body in enumerate(bodies):
        async with session.post(base + "/pay", json=body,
                                headers=pay_headers | {"Idempotency-Key": f"ws-{RUN}-{i}"}) as r:
            await r.read()
        await asyncio.sleep(0.2)
    done, pending = await asyncio.wait(listeners, timeout=60)
    elapsed = time.perf_counter() - t0
    for t in pending:
        t.cancel()
    for ws in socks:
        await ws.close()
    await session.close()
    r = row(f"ws x{clients}", np.array(lat), elapsed, target_rps="-",
            errors=len(pending), target_p99_ms=50.0)
    r["meets_target"] = bool(r["p99_ms"] <= 50.0 and not pending)
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/metrics") as m:
            fan = _histogram(await m.text(), "smartpay_ws_fanout_seconds")
    print(f"server-side fan-out of one event to {clients} sockets (histogram buckets, "
          f"upper bounds): p50 <= {fan(0.5)} ms, p99 <= {fan(0.99)} ms")
    return r


def _histogram(text: str, name: str):
    """Quantile upper bounds (ms) from a Prometheus histogram's cumulative buckets."""
    import re

    buckets = sorted((float(le), float(v)) for le, v in re.findall(
        name + r'_bucket\{[^}]*le="([^"]+)"[^}]*\} ([0-9.e+]+)', text) if le != "+Inf")
    total = float(re.search(name + r"_count(?:\{[^}]*\})? ([0-9.e+]+)", text).group(1))

    def q(p: float) -> str:
        for le, v in buckets:
            if total and v / total >= p:
                return f"{le * 1000:g}"
        return "inf"
    return q


def _fraud_backend_env() -> dict[str, str]:
    """The champion if the registry has one, else the tiny test model (named in output)."""
    try:
        from serving.backends_real import _fraud_champion_version

        if _fraud_champion_version():
            return {}
    except Exception:
        pass
    print("no fraud-detector@champion in the registry: measuring with the tiny "
          "request-feature test model (tests.serving.backends)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return {"SMARTPAY_SERVING_FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
            "PYTHONPATH": root}


async def run_all(base: str, seconds: float, ws_clients: int, ws_payments: int,
                  phases: set[str] = frozenset({"open", "closed", "ws"}),
                  rate_scale: float = 1.0) -> list:
    from serving.security import issue_token
    from smartpay.settings import get_settings

    secret = get_settings().jwt_secret.get_secret_value()
    tok = issue_token(secret, "load", ["payments:write", "payments:read"], 7200)
    headers = {"Authorization": f"Bearer {tok}"}
    rows = []
    for ep in ("/fraud", "/route", "/pay"):
        await drive(base, ep, 50, 2, headers, seed=1)  # warm-up, not reported
        if "open" in phases:
            rate = TARGETS[ep][0] * rate_scale
            rows.append(await drive(base, ep, rate, seconds, headers, seed=2))
    if "closed" in phases:
        for ep, c in (("/fraud", 16), ("/route", 16), ("/pay", 8)):
            rows.append(await capacity(base, ep, c, seconds, headers))
    if "ws" in phases:
        rows.append(await websocket_fanout(base, tok, headers, ws_clients, ws_payments))
    return rows


def _raise_fd_limit() -> None:
    """1,000 sockets each side need more than the usual 1,024 descriptors (inherited
    by the server processes started below)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def main() -> None:
    _raise_fd_limit()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--ws-clients", type=int, default=1000)
    ap.add_argument("--ws-payments", type=int, default=20)
    ap.add_argument("--url", default="", help="an already running API (skip start-up)")
    ap.add_argument("--rate-scale", type=float, default=1.0,
                    help="multiply the target rates (e.g. 0.2 to see p99 below capacity)")
    ap.add_argument("--phases", default="open,closed,ws",
                    help="comma list of open (target rates), closed (capacity), ws")
    args = ap.parse_args()
    env = {"SMARTPAY_SERVING_RATE_LIMIT_PER_S": "100000",
           "SMARTPAY_SERVING_RATE_LIMIT_BURST": "100000"}
    if args.url:
        rows = asyncio.run(run_all(args.url, args.seconds, args.ws_clients, args.ws_payments,
                                   set(args.phases.split(",")), args.rate_scale))
    else:
        from serving.launcher import running_service

        with running_service(extra_env=env | _fraud_backend_env()) as url:
            rows = asyncio.run(run_all(url, args.seconds, args.ws_clients, args.ws_payments,
                                       set(args.phases.split(",")), args.rate_scale))
    print_table("SmartPay API under bentoml serve (open-loop aiohttp client, same machine)",
                rows)


if __name__ == "__main__":
    main()
