"""Shared reporting for benchmarks: latency percentiles, throughput, peak memory."""

from __future__ import annotations

import platform
import os
import resource
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hardware() -> str:
    """One line naming the machine the numbers were taken on."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"


def time_calls(fn: Callable[[], object], n: int, warmup: int = 20) -> np.ndarray:
    """Call fn n times after a warm-up; return per-call latencies in milliseconds."""
    for _ in range(warmup):
        fn()
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1000
    return out


def row(name: str, lat_ms: np.ndarray, seconds: float | None = None, **extra: object) -> dict:
    """A result row: p50/p95/p99 in ms, throughput per second, peak memory."""
    total = seconds if seconds is not None else lat_ms.sum() / 1000
    return {
        "name": name, "n": int(len(lat_ms)),
        "p50_ms": float(np.percentile(lat_ms, 50)),
        "p95_ms": float(np.percentile(lat_ms, 95)),
        "p99_ms": float(np.percentile(lat_ms, 99)),
        "throughput_per_s": float(len(lat_ms) / total) if total else float("nan"),
        "peak_rss_mb": peak_rss_mb(), **extra,
    }


def print_table(title: str, rows: list[dict]) -> None:
    """Print rows as a fixed-width table with the hardware line."""
    print(f"\n{title}  [{hardware()}]")
    cols = ["name", "n", "p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "peak_rss_mb"]
    extra = [k for r in rows for k in r if k not in cols]
    cols += list(dict.fromkeys(extra))
    print("  ".join(f"{c:>16}" for c in cols))
    for r in rows:
        cells = [f"{r.get(c, ''):>16.3f}" if isinstance(r.get(c), float) else f"{str(r.get(c, '')):>16}" for c in cols]
        print("  ".join(cells))


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t:` ... then t[0] holds elapsed seconds."""
    box: list[float] = []
    t0 = time.perf_counter()
    yield box
    box.append(time.perf_counter() - t0)
