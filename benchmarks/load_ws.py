"""The WebSocket phase of the load test: N connections spread over M merchants (one
JWT per merchant), held while payments of those merchants flow open loop; every
event's latency is its receipt time minus its creation time on the server.

Counted: connections opened (and why others failed), dropped (ended by the server or
the network while held), deliveries missing (an event one of its merchant's sockets
never got) and answered payments no socket heard of (an error only for a status
that is announced: final or review; a pending payment's event comes later).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

from benchmarks._wire import ws_connect
from benchmarks.load_cpu import CpuMeter, per_request_ms
from benchmarks.load_drive import Run, build_requests, open_loop, summarise
from serving.ledger.states import FINAL

ANNOUNCED = FINAL | {"review"}  # statuses a payment's answer comes with an event for


def merchant_ids(n: int) -> list[str]:
    return [f"m_load_{i:04d}" for i in range(n)]


async def _connect_all(base: str, tokens: list[str], clients: int, batch: int = 250):
    """Open `clients` sockets, socket i for merchant i % M; ([(merchant index, conn)],
    failure kinds, seconds)."""
    url = base.replace("http", "ws") + "/ws?token="
    received: list[tuple[float, bytes]] = []
    socks, failed = [], Counter()
    t0 = time.perf_counter()
    for lo in range(0, clients, batch):
        idx = range(lo, min(clients, lo + batch))
        got = await asyncio.gather(*(ws_connect(url + tokens[i % len(tokens)], received)
                                     for i in idx), return_exceptions=True)
        for i, conn in zip(idx, got):
            if isinstance(conn, BaseException):
                failed[type(conn).__name__ + ": " + str(conn)[:60]] += 1
            else:
                socks.append((i % len(tokens), conn))
    return socks, failed, time.perf_counter() - t0, received


async def _settle(received: list, expect: int, quiet_s: float, limit_s: float) -> None:
    """Wait for `expect` frames, or until nothing came for `quiet_s`, or `limit_s`."""
    deadline, last_n, last_t = time.perf_counter() + limit_s, -1, time.perf_counter()
    while len(received) < expect and time.perf_counter() < deadline:
        if len(received) != last_n:
            last_n, last_t = len(received), time.perf_counter()
        elif time.perf_counter() - last_t > quiet_s:
            return
        await asyncio.sleep(0.05)


def deliveries(frames: list[tuple[float, bytes]], alive: Counter) -> dict:
    """Latency (ms) of every frame and the deliveries missing: for each event, the
    merchant's open sockets minus the sockets that got it."""
    lat, got, merchant_of, heard = [], Counter(), {}, set()
    for at, text in frames:
        e = json.loads(text)
        lat.append((at - e["ts"]) * 1000)
        got[e["id"]] += 1
        merchant_of[e["id"]] = e["merchant_id"]
        heard.add(e.get("payment_id"))
    missing = sum(max(0, alive[merchant_of[eid]] - n) for eid, n in got.items())
    return {"lat": lat, "events": len(got), "missing": missing, "heard": heard}


async def ws_phase(base: str, tokens: list[str], clients: int, pay_rate: float,
                   seconds: float, pay_bodies: list[dict],
                   meter: CpuMeter | None = None) -> dict:
    """Hold `clients` sockets over len(tokens) merchants while payments flow; CPU
    ms per answered payment while they are held (connecting is not counted)."""
    socks, failed, connect_s, received = await _connect_all(base, tokens, clients)
    await _settle(received, len(socks), 2.0, 60.0)  # every socket's "subscribed"
    subscribed = len(received)
    received.clear()
    merchants = merchant_ids(len(tokens))
    n = int(pay_rate * seconds)
    heads = [{"Authorization": f"Bearer {tokens[i % len(tokens)]}",
              "Idempotency-Key": f"ws-{time.time_ns()}-{i}"} for i in range(n)]
    raw = build_requests(base, "/pay", pay_bodies[:n], heads)
    before = meter.sample() if meter else {}
    t0 = time.perf_counter()
    pays: Run = await open_loop(base, raw, pay_rate, keep_bodies=True)
    answered = pays.sent - pays.errors
    cpu = per_request_ms(before, meter.sample(), answered) if meter else {}
    alive = Counter(merchants[m] for m, c in socks if c.lost_at is None)
    await _settle(received, 1 << 62, 2.0, 30.0)
    held_s = time.perf_counter() - t0
    dropped = sum(1 for _, c in socks if c.dropped)
    for _, c in socks:
        c.close()
    seen = deliveries(received, alive)
    paid = {p.get("payment_id"): p.get("status")
            for p in map(json.loads, pays.bodies or [])}
    unheard = Counter(st for pid, st in paid.items() if pid not in seen["heard"])
    owed = sum(v for k, v in unheard.items() if k in ANNOUNCED)
    row = summarise(f"ws x{len(socks)} / {len(tokens)} merchants",
                    Run(sent=len(received), lat=seen["lat"], elapsed_s=held_s))
    row.update({"connections_wanted": clients, "connections_open": len(socks),
                "connect_failures": dict(failed.most_common(5)),
                "connect_s": round(connect_s, 1), "subscribed_frames": subscribed,
                "dropped": dropped, "events": seen["events"],
                "deliveries_missing": seen["missing"],
                "payments_ok": pays.sent - pays.errors, "payment_errors":
                dict(pays.kinds), "payments_without_event": sum(unheard.values()),
                "unheard_statuses": dict(unheard),
                "pay": summarise(f"/pay @{pay_rate:g}/s during ws", pays, pay_rate),
                "cpu_ms_per_request": cpu})
    row["offered_per_s"] = "-"
    row["errors"] = clients - len(socks) + dropped + seen["missing"] + owed
    row["error_kinds"] = {k: v for k, v in (
        ("not_connected", clients - len(socks)), ("dropped", dropped),
        ("deliveries_missing", seen["missing"]),
        ("announced_payments_unheard", owed)) if v}
    return row

