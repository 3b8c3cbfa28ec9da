"""Load test of the payment API under `bentoml serve` on this machine (`make load-test`).

Starts the stand-ins and `bentoml serve serving.services:PaymentAPI` on a free port,
then drives an open-loop async client (`benchmarks._wire`) at fixed rates and prints p50/p95/p99,
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

import numpy as np

from benchmarks._stats import print_table, row
from benchmarks._wire import HttpPool, request_bytes, ws_connect

TARGETS = {"/fraud": (500, 25.0), "/route": (500, 10.0), "/pay": (100, 150.0)}
RUN = uuid.uuid4().hex[:8]  # Idempotency-Keys unique per run (a ledger may be reused)
# Transactions differ per run too: a server measured twice must not answer the second
# run from its 30-minute risk cache.
SALT = int(RUN, 16)


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


def _requests(base: str, endpoint: str, bodies: list[dict], headers: dict,
              key_prefix: str) -> list[bytes]:
    """Every request's bytes, built before the clock starts."""
    host = base.split("//", 1)[1]
    return [request_bytes("POST", host, endpoint, headers | (
        {"Idempotency-Key": f"{key_prefix}-{i}"} if endpoint == "/pay" else {}), body)
        for i, body in enumerate(bodies)]


class _Tally:
    """Latencies and error kinds of one phase, filled from the client's callbacks."""

    def __init__(self) -> None:
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.pending = 0
        self.idle = asyncio.Event()

    def sent(self) -> None:
        self.pending += 1
        self.idle.clear()

    def done(self, status: int, body: bytes, ms: float) -> None:
        self.lat.append(ms)
        if status != 200:
            self.errors.append(str(status or "connection_lost"))
        self.pending -= 1
        if not self.pending:
            self.idle.set()


async def drive(base: str, endpoint: str, rps: float, seconds: float, headers: dict,
                seed: int = 0) -> dict:
    """Open loop: request i is sent at i/rps seconds whatever the answers do."""
    n = int(rps * seconds)
    raw = _requests(base, endpoint, _bodies(endpoint, n, np.random.default_rng([seed, SALT])),
                    headers, f"load-{RUN}-{seed}")
    pool, tally = HttpPool(base, limit=512), _Tally()
    await pool.open(min(64, n))
    start = time.perf_counter()
    for i, req in enumerate(raw):
        delay = start + i / rps - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tally.sent()
        pool.send(req, tally.done)
    await asyncio.wait_for(tally.idle.wait(), 120)
    elapsed = time.perf_counter() - start
    pool.close()
    target_rps, target_p99 = TARGETS[endpoint]
    r = row(f"{endpoint} @{rps:g}/s", np.array(tally.lat), elapsed, target_rps=target_rps,
            errors=len(tally.errors), target_p99_ms=target_p99)
    if tally.errors:
        print(f"{endpoint}: error kinds {dict(Counter(tally.errors).most_common(4))}")
    r["meets_target"] = bool(r["p99_ms"] <= target_p99 and not tally.errors)
    return r


async def capacity(base: str, endpoint: str, concurrency: int, seconds: float,
                   headers: dict, seed: int = 3) -> dict:
    """Closed loop: `concurrency` clients back to back; the throughput the box sustains."""
    n = 200_000 if endpoint != "/pay" else 20_000
    raw = _requests(base, endpoint, _bodies(endpoint, n, np.random.default_rng([seed, SALT])),
                    headers, f"cap-{RUN}-{seed}")
    pool, tally = HttpPool(base, limit=concurrency), _Tally()
    await pool.open(concurrency)
    todo = iter(raw)
    end = time.perf_counter() + seconds

    def again(status: int, body: bytes, ms: float) -> None:
        tally.done(status, body, ms)
        if time.perf_counter() < end:
            tally.sent()
            pool.send(next(todo), again)

    t0 = time.perf_counter()
    for _ in range(concurrency):
        tally.sent()
        pool.send(next(todo), again)
    await asyncio.wait_for(tally.idle.wait(), seconds + 120)
    elapsed = time.perf_counter() - t0
    pool.close()
    return row(f"{endpoint} closed c={concurrency}", np.array(tally.lat), elapsed,
               target_rps="-", errors=len(tally.errors), target_p99_ms="-",
               meets_target="-")


async def websocket_fanout(base: str, token: str, pay_headers: dict, clients: int,
                           payments: int) -> dict:
    """N clients of one merchant; latency = receipt time - event creation time."""
    ws_url = base.replace("http", "ws") + f"/ws?token={token}"
    received: list[tuple[float, bytes]] = []
    socks = []
    for i in range(0, clients, 100):
        socks += await asyncio.gather(*(ws_connect(ws_url, received)
                                        for _ in range(min(100, clients - i))))
    while len(received) < clients:  # every client's "subscribed"
        await asyncio.sleep(0.05)
    received.clear()
    expected = clients * payments * 2  # payment_processed + reward_minted per payment
    raw = _requests(base, "/pay", _bodies("/pay", payments, np.random.default_rng([99, SALT])),
                    pay_headers, f"ws-{RUN}")
    pool = HttpPool(base, limit=4)
    await pool.open(1)
    t0 = time.perf_counter()
    for req in raw:
        await pool.request(req)
        await asyncio.sleep(0.2)
    deadline = time.perf_counter() + 60
    while len(received) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    pool.close()
    for ws in socks:
        ws.close()
    lat = [(at - json.loads(text)["ts"]) * 1000 for at, text in received]
    missing = expected - len(received)
    r = row(f"ws x{clients}", np.array(lat), elapsed, target_rps="-",
            errors=missing, target_p99_ms=50.0)
    r["meets_target"] = bool(r["p99_ms"] <= 50.0 and not missing)
    metrics = HttpPool(base, limit=1)
    await metrics.open(1)
    _, text = await metrics.request(request_bytes("GET", base.split("//", 1)[1],
                                                  "/metrics", {}))
    metrics.close()
    fan = _histogram(text.decode(), "smartpay_ws_fanout_seconds")
    print(f"server-side fan-out of a payment's events to {clients} sockets (histogram "
          f"buckets, upper bounds): p50 <= {fan(0.5)} ms, p99 <= {fan(0.99)} ms")
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
    return {"SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
            "PYTHONPATH": root}


def _cpu(procs: list) -> dict[str, float]:
    """CPU seconds (user+system) so far of each server process, by its role."""
    out: dict[str, float] = {}
    for role, p in procs:
        try:
            t = p.cpu_times()
            out[role] = out.get(role, 0.0) + t.user + t.system
        except Exception:  # a worker that went away
            pass
    return out


def _roles(proc) -> list:
    """(role, psutil.Process) for the API, the model services and bentoml itself."""
    from serving.launcher import service_processes

    names = {"payment_api": "api", "fraud_scorer": "fraud", "gateway_router": "router"}
    roles = []
    for p in service_processes(proc):
        cmd = p.cmdline()
        name = cmd[cmd.index("--service-name") + 1] if "--service-name" in cmd else ""
        roles.append((names.get(name, "bentoml"), p))
    return roles


async def _with_cpu(rows_out: list, cpu_out: list, procs: list, coro) -> None:
    """Run one /pay phase; record each process's CPU ms per answered payment."""
    before = _cpu(procs)
    row = await coro
    after = _cpu(procs)
    rows_out.append(row)
    n = max(1, row["n"] - int(row.get("errors", 0)))
    cpu_out.append((row["name"], n,
                    {r: (after[r] - before.get(r, 0.0)) * 1000 / n for r in after}))


async def run_all(base: str, seconds: float, ws_clients: int, ws_payments: int,
                  phases: set[str] = frozenset({"open", "closed", "ws"}),
                  rate_scale: float = 1.0, procs: list | None = None,
                  cpu: list | None = None) -> list:
    from serving.security import issue_token
    from smartpay.settings import get_settings

    secret = get_settings().jwt_secret.get_secret_value()
    tok = issue_token(secret, "load", ["payments:write", "payments:read"], 7200)
    headers = {"Authorization": f"Bearer {tok}"}
    rows = []
    for ep in ("/fraud", "/route", "/pay"):
        # warm-up at the phase's own rate, not reported: the first seconds after a
        # start pay for lazy imports, compiled statement caches and first collections
        await drive(base, ep, TARGETS[ep][0] * rate_scale, 3, headers, seed=1)
        if "open" in phases:
            rate = TARGETS[ep][0] * rate_scale
            run = drive(base, ep, rate, seconds, headers, seed=2)
            if ep == "/pay" and procs:
                await _with_cpu(rows, cpu, procs, run)
            else:
                rows.append(await run)
    if "closed" in phases:
        for ep, c in (("/fraud", 16), ("/route", 16), ("/pay", 8)):
            run = capacity(base, ep, c, seconds, headers)
            if ep == "/pay" and procs:
                await _with_cpu(rows, cpu, procs, run)
            else:
                rows.append(await run)
    if "ws" in phases:
        rows.append(await websocket_fanout(base, tok, headers, ws_clients, ws_payments))
    return rows


def _raise_fd_limit() -> None:
    """1,000 sockets each side need more than the usual 1,024 descriptors (inherited
    by the server processes started below)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def _run(coro):
    """Run the client on uvloop (as the server does) with the start-up heap frozen,
    so the generator's own event loop and collector add as little as they can to the
    latencies it measures."""
    import gc

    import uvloop

    gc.collect()
    gc.freeze()
    return uvloop.run(coro)


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
    env = {"SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
           "SMARTPAY_SERVING__RATE_LIMIT_BURST": "100000",
           "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000",
           "SMARTPAY_SERVING__IP_RATE_LIMIT_BURST": "100000"}
    if args.url:
        rows = _run(run_all(args.url, args.seconds, args.ws_clients, args.ws_payments,
                                   set(args.phases.split(",")), args.rate_scale))
        cpu: list = []
    else:
        from harness.standins import running_standins
        from serving.launcher import start_service, stop_service
        from smartpay.settings import get_settings

        cpu = []
        with running_standins(get_settings().data_path) as standins:
            proc, url = start_service(extra_env=standins | env | _fraud_backend_env())
            try:
                rows = _run(run_all(url, args.seconds, args.ws_clients, args.ws_payments,
                                    set(args.phases.split(",")), args.rate_scale,
                                    _roles(proc), cpu))
            finally:
                stop_service(proc)
    print_table("SmartPay API under bentoml serve (open-loop asyncio client, same machine)",
                rows)
    for phase, n, per in cpu:
        shares = ", ".join(f"{r} {ms:.2f}" for r, ms in sorted(per.items()))
        print(f"CPU ms per payment, {phase} ({n} answered): {shares}")


if __name__ == "__main__":
    main()
