"""Availability under faults (`make chaos`): /pay while workers die, a gateway restarts.

/pay at a fixed open-loop rate while model workers are killed and a gateway stand-in
is restarted; every request is accounted for.

Starts the stand-ins and `bentoml serve serving.services:PaymentAPI` on a fresh data
dir (tiny request-feature fraud model, fresh router policy: the faults, not the models,
are under test), then for `--seconds` sends /pay at `--rate` per second, each request
with its own Idempotency-Key, while:

- every `--kill-every` s a model worker is SIGKILLed, fraud and router in turn, and
  the benchmark watches whether BentoML starts a new one (and how long it takes);
- once, at `--gateway-at` s, localstripe is stopped (SIGTERM) and started again on
  the same port `--gateway-down` s later, with its books (harness state file).

A client retries, with the same key, what the API asked it to retry or never
answered (5xx, 429, 409 in progress, a dropped connection), `--retries` times 1 s
apart. After the run, `smartpay reconcile` settles what is pending (status sync);
the ledger is read; each request is sent once more (its answer must name the same
payment); a second `smartpay reconcile` compares the ledger with every gateway, and
localstripe's intents are counted per payment:

    .venv/bin/python -m benchmarks.chaos [--seconds 300] [--rate 100] [--json out.json]

Acceptance: >= 99.9 % of requests answered with a final status, 0 double charges,
0 lost payments. The load generator shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _chaos_audit as ca
from benchmarks._chaos_faults import ROLES, kill_workers, restart_localstripe
from benchmarks._wire import HttpPool
from benchmarks.load_bodies import bodies as _bodies
from benchmarks.load_drive import build_requests

ROOT = Path(__file__).resolve().parents[1]


def api_env(data_dir: Path, jwt_secret: str) -> dict[str, str]:
    """Settings of the API and of `smartpay reconcile` for the run."""
    return {
        "SMARTPAY_DATA_DIR": str(data_dir), "SMARTPAY_PROFILE": "local",
        "SMARTPAY_JWT_SECRET": jwt_secret, "PYTHONPATH": str(ROOT),
        "SMARTPAY_MLFLOW_TRACKING_URI": f"sqlite:///{data_dir}/mlflow/mlflow.db",
        "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
        "SMARTPAY_SERVING__FRESH_FEATURES": "false",  # the tiny model reads no Feast
        "SMARTPAY_SERVING__ASSISTANT": "false",
        "SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
        "SMARTPAY_SERVING__RATE_LIMIT_BURST": "100000",
        "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000",
        "SMARTPAY_SERVING__IP_RATE_LIMIT_BURST": "100000",
        # localstripe is consistent at once: a charge it cannot find was never made
        "SMARTPAY_SERVING__CONSISTENCY_WINDOW_S": "2",
    }


class Client:
    """Open-loop sender over one keep-alive pool; records each request's answers and
    re-sends, after `backoff_s`, what a careful client would."""

    def __init__(self, pool: HttpPool, retries: int, backoff_s: float = 1.0) -> None:
        self.pool, self.retries, self.backoff_s = pool, retries, backoff_s
        self.open = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def send(self, raw: bytes, a: ca.Answer) -> None:
        self.open += 1
        self.idle.clear()
        t0 = time.perf_counter()
        self._try(raw, a, t0)

    def _try(self, raw: bytes, a: ca.Answer, t0: float) -> None:
        a.tries += 1
        self.pool.send(raw, lambda s, b, ms: self._answered(raw, a, t0, s, b, ms))

    def _answered(self, raw, a: ca.Answer, t0: float, status: int, body: bytes,
                  ms: float) -> None:
        kind = ca.answer_kind(status, body)
        if a.tries == 1:
            a.first, a.first_ms = kind, ms
        a.last = kind
        if status == 200 and kind in ca.FINAL | {"pending", "review"}:
            a.payment_id = json.loads(body).get("payment_id")
        if ca.retryable(status, body) and a.tries <= self.retries:
            asyncio.get_running_loop().call_later(self.backoff_s, self._try, raw, a, t0)
            return
        a.total_ms = (time.perf_counter() - t0) * 1000
        self.open -= 1
        if not self.open:
            self.idle.set()


async def drive(url: str, raws: list[bytes], answers: list[ca.Answer], rate: float,
                retries: int) -> float:
    """Request i at i/rate s whatever the answers do; returns the seconds until the
    last request had its last answer."""
    pool = HttpPool(url, limit=512)
    await pool.open(min(64, len(raws)))
    client = Client(pool, retries)
    start = time.perf_counter()
    for i, (raw, a) in enumerate(zip(raws, answers)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        a.sent_s = time.perf_counter() - start
        client.send(raw, a)
    await asyncio.wait_for(client.idle.wait(), 120 * (retries + 1) + 60)
    pool.close()
    return time.perf_counter() - start


# -- after the run -------------------------------------------------------------------
def reconcile(env: dict[str, str]) -> dict:
    """`smartpay reconcile --json`: status sync, then the ledger against every
    gateway."""
    cmd = [str(Path(sys.executable).with_name("smartpay")), "reconcile", "--json",
           "--refund-min-age-s", "0"]
    out = subprocess.run(cmd, env=os.environ | env, capture_output=True, text=True,
                         timeout=900, cwd=ROOT)
    start = out.stdout.find("{")
    if start < 0:
        raise RuntimeError(f"smartpay reconcile gave no report:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout[start:])


async def replay(url: str, raws: list[bytes], keys: list[str]) -> dict[str, str | None]:
    """Each request once more, 16 at a time: the payment id each answer names."""
    pool, out = HttpPool(url, limit=16), {}
    await pool.open(16)
    sem = asyncio.Semaphore(16)

    async def one(raw: bytes, key: str) -> None:
        async with sem:
            status, body = await pool.request(raw)
        out[key] = json.loads(body).get("payment_id") if status == 200 else None

    await asyncio.gather(*(one(r, k) for r, k in zip(raws, keys)))
    pool.close()
    return out


def _requests(base: str, endpoint: str, bodies: list[dict], headers: dict,
              key_prefix: str) -> list[bytes]:
    """Every /pay request's bytes, each with its own Idempotency-Key."""
    return build_requests(base, endpoint, bodies,
                          [headers | {"Idempotency-Key": f"{key_prefix}-{i}"}
                           for i in range(len(bodies))])


# -- the run -------------------------------------------------------------------------
async def load_with_faults(url: str, proc, stripe_base: str, state: Path, token: str,
                           args, keep: list) -> dict:
    """Warm-up (3 s, not counted), then the measured run with its faults."""
    headers, run_id = {"Authorization": f"Bearer {token}"}, secrets.token_hex(4)
    rng = np.random.default_rng(int(run_id, 16))
    warm = _requests(url, "/pay", _bodies("/pay", int(args.rate * 3), rng), headers,
                     f"warm-{run_id}")
    await drive(url, warm, [ca.Answer("") for _ in warm], args.rate, args.retries)
    n, prefix = int(args.rate * args.seconds), f"chaos-{run_id}"
    raws = _requests(url, "/pay", _bodies("/pay", n, rng), headers, prefix)
    answers = [ca.Answer(f"{prefix}-{i}") for i in range(n)]
    faults: list[dict] = []
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(kill_workers(proc, url, args.kill_every, args.seconds,
                                              t0, faults))]
    if 0 < args.gateway_at < args.seconds:
        tasks.append(asyncio.create_task(restart_localstripe(
            stripe_base, state, args.gateway_at, args.gateway_down, t0, faults, keep)))
    elapsed = await drive(url, raws, answers, args.rate, args.retries)
    await asyncio.gather(*tasks)
    return {"prefix": prefix, "raws": raws, "answers": answers, "elapsed_s": elapsed,
            "faults": sorted(faults, key=lambda e: e["t_s"])}


def conclude(run: dict, url: str, env: dict, stripe: dict) -> dict:
    """Status sync, the replays, the ledger and localstripe read: the report."""
    answers: list[ca.Answer] = run["answers"]
    ledger = str(Path(env["SMARTPAY_DATA_DIR"]) / "ledger" / "ledger.db")
    settled = reconcile(env)
    rows = ca.ledger_rows(ledger, run["prefix"])
    replays = asyncio.run(replay(url, run["raws"], [a.key for a in answers]))
    report = reconcile(env)  # the replays may have made payments: compare them too
    final = ca.ledger_rows(ledger, run["prefix"])
    charges = ca.stripe_charges(stripe["base"], stripe["key"])
    found = ca.audit(answers, rows, final, charges, replays, report["problems"])
    t = ca.tallies(answers)
    first = np.array([a.first_ms for a in answers])
    total = np.array([a.total_ms for a in answers])
    return {
        "tallies": t, "elapsed_s": run["elapsed_s"],
        "achieved_rps": len(answers) / run["elapsed_s"],
        "first_answer_ms": _pcts(first), "last_answer_ms": _pcts(total),
        "faults": run["faults"], "timeline": ca.timeline(answers),
        "reconcile": {"payments": settled["payments"], "keys": settled["keys"],
                      "after_replay": report["payments"],
                      "problems": report["problems"]},
        "ledger_payments": len(rows), "after_replay": len(final),
        "stripe_charged_payments": len(charges),
        "audit": {k: v for k, v in vars(found).items()},
        "acceptance": [{"line": line, "figure": fig, "pass": ok} for line, fig, ok in
                       ca.acceptance(t, found, len(report["problems"]))],
    }


def _pcts(ms: np.ndarray) -> dict:
    return {f"p{q}": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)} | {
        "max": round(float(ms.max()), 1)}


def show(r: dict, args) -> None:
    t = r["tallies"]
    print(f"\nChaos phase: /pay at {args.rate:g}/s for {args.seconds:g} s, "
          f"{t['requests']} requests; the last answer came {r['elapsed_s']:.1f} s "
          f"after the first request ({r['achieved_rps']:.1f} answered/s over that)")
    print(f"first answers: {t['first_answers']}")
    print(f"first answers final: {t['first_final_pct']:.3f} %")
    print(f"last answers (client retries 5xx/429/409-in-progress/dropped up to "
          f"{args.retries} times; {t['retried']} retried): {t['last_answers']}")
    print(f"latency ms, first answer {r['first_answer_ms']}; "
          f"last {r['last_answer_ms']}")
    print("sent at      n  first answer not final  p50 ms   p99 ms")
    for b in r["timeline"]:
        print(f"{b['from_s']:>5g} s {b['n']:>6} {b['not_final']:>23} {b['p50_ms']:>7g} "
              f"{b['p99_ms']:>8g}")
    for e in r["faults"]:
        print(f"  fault at {e['t_s']:6.1f} s: {e['fault']} (pid {e['pid']})"
              + (f", new worker after {e['respawn_s']:.1f} s" if e.get("respawn_s")
                 else ", NO new worker within 60 s" if "respawn_s" in e else "")
              + (f", API ready again after {e['ready_s']:.1f} s" if e.get("ready_s")
                 else ", API NOT ready within 180 s" if "ready_s" in e else "")
              + (f", down {e['down_s']} s" if "down_s" in e else ""))
    rc = r["reconcile"]
    print(f"status sync (smartpay reconcile): payments {rc['payments'] or 'none'}, "
          f"keys {rc['keys'] or 'none'}; "
          f"after the replays: {rc['after_replay'] or 'none'}"
          f", {len(rc['problems'])} mismatches")
    for p in rc["problems"][:5]:
        print(f"  mismatch: {p}")
    print(f"ledger: {r['ledger_payments']} payments for the run's keys after status "
          f"sync, {r['after_replay']} after the replays; localstripe: "
          f"{r['stripe_charged_payments']} payments charged")
    for name, keys in r["audit"].items():
        if keys:
            print(f"  {name}: {len(keys)} (e.g. {', '.join(keys[:3])})")
    for a in r["acceptance"]:
        print(f"{a['line']:<52} {a['figure']:>12}  {'PASS' if a['pass'] else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--rate", type=float, default=100.0,
                    help="/pay requests per second")
    ap.add_argument("--kill-every", type=float, default=30.0)
    ap.add_argument("--gateway-at", type=float, default=None,
                    help="second of the run localstripe is restarted (default 45 %% "
                    "of the run; 0: never)")
    ap.add_argument("--gateway-down", type=float, default=5.0)
    ap.add_argument("--retries", type=int, default=3,
                    help="how often a client re-sends one request (0: never)")
    ap.add_argument("--model-workers", type=int, default=1,
                    help="workers of the fraud and router services (1: as shipped)")
    ap.add_argument("--work-dir", type=Path, default=None,
                    help="where the run's data dir goes (default: a new temp dir)")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    args = ap.parse_args()
    for name in ("seconds", "rate", "kill_every"):
        if getattr(args, name) <= 0:
            flag, value = name.replace("_", "-"), getattr(args, name)
            ap.error(f"--{flag}: {value!r}; expected > 0")
    if args.retries < 0 or args.model_workers < 1 or args.gateway_down < 0:
        ap.error("--retries >= 0, --model-workers >= 1 and --gateway-down >= 0 "
                 f"expected; got {args.retries}, {args.model_workers}, "
                 f"{args.gateway_down}")
    if args.gateway_at is None:
        args.gateway_at = 0.45 * args.seconds
    report = run_chaos(args)
    show(report, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str))
    sys.exit(0 if all(a["pass"] for a in report["acceptance"]) else 1)


def run_chaos(args) -> dict:
    from benchmarks.load_test import _raise_fd_limit, _run
    from harness.localstripe import stop_localstripe
    from harness.standins import running_standins
    from serving.launcher import start_service, stop_service
    from serving.security import issue_token

    _raise_fd_limit()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="smartpay-chaos-")).resolve()
    data, secret = work / "data", secrets.token_hex(24)
    env, keep = api_env(data, secret), []
    if args.model_workers != 1:  # BentoML's own override of the services' config
        env["BENTOML_CONFIG_OPTIONS"] = " ".join(
            f"services.{name}.workers={args.model_workers}" for name in ROLES.values())
    print(f"chaos run in {work} (tiny fraud model, fresh router policy, "
          f"{args.model_workers} worker(s) per model service)", flush=True)
    with running_standins(data, stripe_state=work / "localstripe.pickle") as standins:
        env |= standins
        proc, url = start_service(extra_env=env, log_path=work / "serve.log")
        stripe = {"base": standins["SMARTPAY_GATEWAYS__STRIPE_API_BASE"],
                  "key": os.environ.get("SMARTPAY_STRIPE_API_KEY", "sk_test_local")}
        try:
            scopes = ["payments:write", "payments:read"]
            token = issue_token(secret, "chaos", scopes, 7200)
            run = _run(load_with_faults(url, proc, stripe["base"],
                                        work / "localstripe.pickle", token, args, keep))
            return conclude(run, url, env, stripe)
        finally:
            stop_service(proc)
            for p in keep:
                stop_localstripe(p)


if __name__ == "__main__":
    main()
