"""Where a payment's CPU goes in the API process: a py-spy profile under /pay load.

Starts the stand-ins and `bentoml serve` (as `make load-test` does), sends /pay at a
steady open-loop rate, and records the payment API worker with py-spy (a sampling
profiler that attaches to the running process: nothing in the server changes). Saves
a flame graph (SVG) and the collapsed stacks under `--out`, and prints the API's CPU
ms per payment with its split by library (the innermost frame that is not the
standard library's decides whose time a sample is):

    .venv/bin/python -m benchmarks.profile_pay [--rate 60] [--seconds 20] [--out docs/profiles]

py-spy is a development tool (`pip install py-spy`); attaching needs ptrace rights
(root, or kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks._wire import HttpPool, request_bytes

RUN = uuid.uuid4().hex[:8]
STDLIB = sysconfig.get_paths()["stdlib"]


def pay_bodies(n: int, seed: int = 0) -> list[dict]:
    """Distinct card payments over a few thousand customers and terminals."""
    rng = np.random.default_rng([seed, int(RUN, 16)])
    return [{"amount_minor": int(a), "currency": "USD", "tx_epoch_s": int(time.time()),
             "customer_id": i % 4000, "terminal_id": i % 9000, "card_id": i % 8000,
             "channel": "ecommerce",
             "payment_method": {"type": "card", "token": "pm_card_visa"}}
            for i, a in enumerate(rng.integers(100, 20_000, n))]


async def send_pays(base: str, rate: float, seconds: float, headers: dict,
                    phase: str) -> dict:
    """Open loop at `rate`; counts of answers by status."""
    host = base.split("//", 1)[1]
    bodies = pay_bodies(int(rate * seconds), seed=len(phase))
    raw = [request_bytes("POST", host, "/pay",
                         headers | {"Idempotency-Key": f"prof-{RUN}-{phase}-{i}"}, b)
           for i, b in enumerate(bodies)]
    pool, status, left = HttpPool(base, limit=256), Counter(), [len(raw)]
    idle = asyncio.Event()

    def done(code: int, body: bytes, ms: float) -> None:
        try:
            gateway = json.loads(body).get("gateway") if code == 200 else None
        except ValueError:
            gateway = None
        status[f"{code} {gateway}" if gateway else str(code)] += 1
        left[0] -= 1
        if not left[0]:
            idle.set()

    await pool.open(16)
    start = time.perf_counter()
    for i, req in enumerate(raw):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pool.send(req, done)
    await asyncio.wait_for(idle.wait(), 120)
    pool.close()
    return dict(status)


def owner(frame: str) -> str:
    """Whose code a collapsed-stack frame is: `pkg` for site-packages, the project's
    top folder for ours, `stdlib:<module>` for the standard library."""
    # py-spy frames look like "function (path/to/file.py:123)"
    path = frame.rsplit("(", 1)[-1].split(":", 1)[0]
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(STDLIB) or "/lib/python3" in path:
        rest = path.split("/lib/python3", 1)[-1].split("/", 1)[-1]
        return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if path.startswith(root):
        return path[len(root) + 1:].split("/", 1)[0]
    return path or "?"


def split_by_owner(collapsed: str) -> tuple[Counter, int]:
    """Samples by the innermost non-stdlib frame's owner (stdlib time is charged to
    the library that called into it, e.g. json.dumps from pydantic)."""
    out, total = Counter(), 0
    for line in collapsed.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        n, frames = int(n), stack.split(";")
        total += n
        who = next((o for o in map(owner, reversed(frames)) if not o.startswith("stdlib:")),
                   None)
        idle = frames[-1].split(" (", 1)[0] in ("select", "poll", "epoll_wait", "run_once")
        out["(idle in the event loop)" if idle and who in (None, "uvloop") else
            who or owner(frames[-1])] += n
    return out, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=Path("docs/profiles"))
    ap.add_argument("--rate-hz", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--all-threads", action="store_true",
                    help="sample every thread, not only the one holding the GIL (py-spy "
                         "then counts some threads blocked on queues as busy)")
    args = ap.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        sys.exit("py-spy is not installed: pip install py-spy")
    from benchmarks.load_cpu import api_roles
    from benchmarks.load_test import _fraud_backend_env
    from harness.standins import running_standins
    from serving.launcher import start_service, stop_service
    from serving.security import issue_token
    from smartpay.settings import get_settings

    settings = get_settings()
    tok = issue_token(settings.jwt_secret.get_secret_value(), "load",
                      ["payments:write", "payments:read"], 3600)
    headers = {"Authorization": f"Bearer {tok}"}
    env = {"SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
           "SMARTPAY_SERVING__RATE_LIMIT_BURST": "100000",
           "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000",
           "SMARTPAY_SERVING__IP_RATE_LIMIT_BURST": "100000"}
    args.out.mkdir(parents=True, exist_ok=True)
    with running_standins(settings.data_path) as standins:
        proc, url = start_service(extra_env=standins | env | _fraud_backend_env()[0])
        try:
            api = next(p for role, p in api_roles(proc) if role == "api")
            asyncio.run(send_pays(url, args.rate, 5, headers, "warm"))  # warm-up
            raw = args.out / "pay-api.collapsed.txt"
            rec = [spy, "record", "--pid", str(api.pid), "--duration",
                   str(int(args.seconds)), "--rate", str(args.rate_hz), "--nonblocking",
                   "--full-filenames", "--threads", "--format", "raw", "--output", str(raw)]
            rec += [] if args.all_threads else ["--gil"]
            cpu0 = api.cpu_times()
            spy_proc = subprocess.Popen(rec, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
            answers = asyncio.run(send_pays(url, args.rate, args.seconds, headers, "run"))
            cpu1 = api.cpu_times()
            spy_proc.wait(timeout=args.seconds + 60)
        finally:
            stop_service(proc)
    svg = args.out / "pay-api.svg"
    _flamegraph(raw, svg)
    n = sum(answers.values())
    cpu_ms = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000 / max(1, n)
    print(f"/pay at {args.rate:g}/s for {args.seconds:g} s: answers {answers}")
    print(f"payment API CPU per payment: {cpu_ms:.2f} ms")
    split, total = split_by_owner(raw.read_text())
    busy = total - split.get("(idle in the event loop)", 0)
    print(f"py-spy samples {total} ({busy} busy); busy time by owner "
          "(innermost non-stdlib frame):")
    for who, k in split.most_common():
        if who == "(idle in the event loop)":
            continue
        share = k / max(1, busy)
        if share >= 0.01:
            print(f"  {who:28s} {share:6.1%}  ~{share * cpu_ms:5.2f} ms/payment")
    print(f"flame graph: {svg}; collapsed stacks: {raw}")


def _flamegraph(collapsed: Path, svg: Path) -> None:
    """An SVG flame graph from collapsed stacks (py-spy writes one format a run: we
    keep raw for the split above and draw the SVG here)."""
    from benchmarks._flame import write_svg

    write_svg(collapsed.read_text(), svg, title="SmartPay payment API under /pay load")


if __name__ == "__main__":
    main()
