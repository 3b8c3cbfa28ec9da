"""First /chat after `smartpay serve`: start-up time, then the latency of the first
question and of the next uncached ones. `python -m benchmarks.first_chat [--runs 3]`.

Run after `make demo` (trained models and the saved KB index): with the index saved,
`serve` loads the assistant while it starts, so the first /chat pays no model load.
Each run starts a fresh `smartpay serve` on a free port and stops it; nothing else
is started or left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

import httpx
import numpy as np

from benchmarks._stats import print_table, row

QUESTIONS = [
    "How do I refund a payment?",
    "How long are new rewards locked in escrow?",
    "What does HTTP 409 mean?",
    "Why was a payment declined with insufficient_funds?",
    "How do operators approve a payment held for review?",
    "Which currencies can customers pay in?",
]


def _free_port() -> int:
    from harness.server import free_port

    return free_port()


def _token() -> str:
    from serving.security import issue_token
    from smartpay.settings import get_settings

    settings, cfg = get_settings(), get_settings().serving
    return issue_token(settings.jwt_secret.get_secret_value(), "m_bench",
                       ["payments:read"], 600, cfg.jwt_issuer, cfg.jwt_audience)


def _wait_health(url: str, proc: subprocess.Popen, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"smartpay serve exited with {proc.returncode}")
        try:
            r = httpx.get(f"{url}/health", timeout=1.0)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"smartpay serve not healthy after {timeout_s} s")


def one_run(timeout_s: float) -> tuple[float, float, list[float]]:
    """(start-up s, first /chat ms, next /chats ms) against a fresh `smartpay serve`."""
    port = _free_port()
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {_token()}"}
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_health(url, proc, timeout_s)
        started = time.perf_counter() - t0
        lat = []
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            for q in QUESTIONS:
                t = time.perf_counter()
                r = client.post("/chat", json={"message": q})
                lat.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()
        return started, lat[0], lat[1:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this run started, only
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="Fresh starts of serve.")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="Start-up limit, s.")
    args = parser.parse_args()
    starts, firsts, nexts = [], [], []
    for _ in range(args.runs):
        started, first, rest = one_run(args.timeout)
        starts.append(started * 1000)
        firsts.append(first)
        nexts += rest
    print_table("First /chat after smartpay serve (uncached, offline answerer)", [
        row("serve start-up (to /health 200)", np.array(starts)),
        row("first /chat", np.array(firsts)),
        row("next /chats", np.array(nexts)),
    ])


if __name__ == "__main__":
    main()
