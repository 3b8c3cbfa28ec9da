"""Open- and closed-loop drivers of the load test over prebuilt requests.

Open loop: request i leaves at i/rate seconds whatever the answers do, so a slow
server shows as latency (queueing counted from the planned send), not as a lower
offered rate. Closed loop: `concurrency` clients back to back, the throughput the box
sustains. Both wait for the last answer up to a drain limit; what is still unanswered
then counts as a `timeout` error (and has no latency).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from benchmarks._wire import HttpPool, request_bytes


def build_requests(base: str, path: str, bodies: list[dict],
                   headers: list[dict] | dict) -> list[bytes]:
    """Every request's bytes, built before the clock starts (`headers` one per body,
    or one dict for all)."""
    host = base.split("//", 1)[1]
    per = headers if isinstance(headers, list) else [headers] * len(bodies)
    return [request_bytes("POST", host, path, h, b) for h, b in zip(per, bodies)]


@dataclass
class Run:
    """What one driven phase saw: latencies (ms) of answers, error kinds, bodies of
    the answered requests when asked for, and the phase's wall time."""

    sent: int = 0
    lat: list[float] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    bodies: list[bytes] | None = None
    elapsed_s: float = 0.0
    pending: int = 0

    def done(self, status: int, body: bytes, ms: float) -> None:
        self.lat.append(ms)
        if status != 200:
            self.kinds[str(status) if status else "connection_lost"] += 1
        elif self.bodies is not None:
            self.bodies.append(body)
        self.pending -= 1

    @property
    def errors(self) -> int:
        return sum(self.kinds.values())


async def _drain(run: Run, drain_s: float) -> None:
    deadline = time.perf_counter() + drain_s
    while run.pending > 0 and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    if run.pending > 0:
        run.kinds["timeout"] += run.pending


async def open_loop(base: str, raw: list[bytes], rate: float, drain_s: float = 60.0,
                    keep_bodies: bool = False, pool_limit: int = 512) -> Run:
    """Send request i at i/rate s; the phase ends when every answer is in (or the
    drain limit passed)."""
    run = Run(bodies=[] if keep_bodies else None)
    pool = HttpPool(base, limit=pool_limit)
    await pool.open(min(64, len(raw)))
    start = time.perf_counter()
    for i, req in enumerate(raw):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        run.sent += 1
        run.pending += 1
        pool.send(req, run.done)
    await _drain(run, drain_s)
    run.elapsed_s = time.perf_counter() - start
    pool.close()
    return run


async def closed_loop(base: str, raw: list[bytes], concurrency: int, seconds: float,
                      drain_s: float = 60.0) -> Run:
    """`concurrency` clients, each sending its next request when its answer is in."""
    run, pool = Run(), HttpPool(base, limit=concurrency)
    await pool.open(concurrency)
    todo = iter(raw)
    end = time.perf_counter() + seconds

    def again(status: int, body: bytes, ms: float) -> None:
        run.done(status, body, ms)
        nxt = next(todo, None) if time.perf_counter() < end else None
        if nxt is not None:
            run.sent += 1
            run.pending += 1
            pool.send(nxt, again)

    t0 = time.perf_counter()
    for _ in range(concurrency):
        run.sent += 1
        run.pending += 1
        pool.send(next(todo), again)
    await asyncio.sleep(seconds)
    await _drain(run, drain_s)
    run.elapsed_s = time.perf_counter() - t0
    pool.close()
    return run


def summarise(name: str, run: Run, offered: float | str = "-") -> dict:
    """One result row: p50/p95/p99/max of the answers, achieved rate of good answers,
    errors by kind."""
    lat = np.asarray(run.lat) if run.lat else np.asarray([np.nan])
    ok = len(run.lat) - sum(v for k, v in run.kinds.items() if k != "timeout")
    q = np.nanpercentile(lat, [50, 95, 99]) if run.lat else [np.nan] * 3
    return {"name": name, "offered_per_s": offered, "sent": run.sent, "ok": ok,
            "p50_ms": float(q[0]), "p95_ms": float(q[1]), "p99_ms": float(q[2]),
            "max_ms": float(np.nanmax(lat)) if run.lat else float("nan"),
            "achieved_per_s": ok / run.elapsed_s if run.elapsed_s else 0.0,
            "errors": run.errors, "error_kinds": dict(run.kinds.most_common()),
            "elapsed_s": run.elapsed_s}
