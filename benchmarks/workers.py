"""Closed-loop capacity of the prod-profile payment API with 1 and 2 workers a service.

For each worker configuration (`--configs api:model,...`, default 1:1, 2:1 and 2:2;
"model" is the worker count of both the fraud scorer and the gateway router) this
starts `bentoml serve` in the prod profile on a fresh PostgreSQL database and Redis
prefix, beside the harness's gateway stand-ins (the product gets their URLs and keys
as settings, and no sandbox hooks, the way a deployment would), then runs
`benchmarks.load_test.capacity` on /fraud, /route and /pay, and prints throughput and
p99 per configuration, the speed-up over the first, and each process's share of the
CPU (how evenly the kernel spread the connections over the workers):

    nice -n 10 .venv/bin/python -m benchmarks.workers [--seconds 5] [--configs 1:1,2:2]

Fraud is scored by the tiny request-feature model of the tests (no Feast, no MLflow
champion needed); the router is a fresh VW policy. The load generator and the
stand-ins share the machine with the server, so on two cores a second worker has
little idle CPU to use: the figures say how much it buys here, not on a bigger box.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from benchmarks._stats import print_table
from benchmarks.load_test import _raise_fd_limit, _roles, _run, capacity

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-workers-secret-" + "0123456789abcdef" * 2
ENDPOINTS = (("/fraud", 16), ("/route", 16), ("/pay", 8))


@contextmanager
def _scratch_database(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database for one configuration (dropped afterwards)."""
    import psycopg

    name = f"smartpay_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.replace("postgresql://", "postgresql+psycopg://").rsplit(
            "/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prod_env(standins: dict, db_url: str, redis_url: str, prefix: str,
              data_dir: Path) -> dict[str, str]:
    """The prod profile on the stand-ins: their URLs and keys, not their hooks."""
    env = {k: v for k, v in standins.items() if not k.endswith("SANDBOX_HOOKS")}
    return env | {
        "SMARTPAY_PROFILE": "prod", "SMARTPAY_POSTGRES_URL": db_url,
        "SMARTPAY_REDIS_URL": redis_url, "SMARTPAY_SERVING__REDIS_PREFIX": prefix,
        "SMARTPAY_JWT_SECRET": SECRET,
        "SMARTPAY_STRIPE_API_KEY": "sk_test_bench_workers",
        "SMARTPAY_DATA_DIR": str(data_dir),
        "SMARTPAY_MLFLOW_TRACKING_URI": f"sqlite:///{data_dir / 'mlflow.db'}",
        "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
        "SMARTPAY_SERVING__FRESH_FEATURES": "false",
        "SMARTPAY_SERVING__ASSISTANT": "false",
        "SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
        "SMARTPAY_SERVING__RATE_LIMIT_BURST": "100000",
        "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000",
        "SMARTPAY_SERVING__IP_RATE_LIMIT_BURST": "100000",
        "PYTHONPATH": str(ROOT),
    }


def _create_tracking_store(uri: str) -> None:
    """Create the fresh SQLite MLflow store before the router workers start: each
    would otherwise run MLflow's schema migration on the empty file at once, and the
    loser exits. (A deployment points every worker at one tracking server.)"""
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).search_experiments(max_results=1)


def _cpu_by_process(procs: list) -> dict[str, float]:
    """CPU seconds so far of each server process, named role#pid."""
    out = {}
    for role, p in procs:
        try:
            t = p.cpu_times()
            out[f"{role}#{p.pid}"] = t.user + t.system
        except Exception:  # noqa: BLE001 - a process that went away
            pass
    return out


async def _measure(url: str, seconds: float, seed: int, procs: list
                   ) -> tuple[list[dict], dict[str, dict[str, float]]]:
    """Warm-up, then each endpoint's closed-loop capacity and its CPU per process."""
    from serving.security import issue_token

    tok = issue_token(SECRET, "bench", ["payments:write", "payments:read"], 7200)
    headers = {"Authorization": f"Bearer {tok}"}
    for ep, c in ENDPOINTS:  # not reported: lazy imports, statement caches, pools
        await capacity(url, ep, c, 2.0, headers, seed=seed * 100)
    rows, cpu = [], {}
    for ep, c in ENDPOINTS:
        before = _cpu_by_process(procs)
        rows.append(await capacity(url, ep, c, seconds, headers, seed=seed * 100 + 1))
        after = _cpu_by_process(procs)
        cpu[ep] = {k: after[k] - before.get(k, 0.0) for k in after}
    return rows, cpu


def run_config(standins: dict, api: int, model: int, seconds: float, seed: int,
               redis_url: str, pg_admin: str, log_dir: Path) -> tuple[list, dict]:
    """One worker configuration on its own database and Redis prefix."""
    import redis

    from serving.launcher import start_service, stop_service

    prefix = f"bench-workers-{uuid.uuid4().hex[:8]}"
    with _scratch_database(pg_admin) as db, tempfile.TemporaryDirectory() as tmp:
        env = _prod_env(standins, db, redis_url, prefix, Path(tmp))
        _create_tracking_store(env["SMARTPAY_MLFLOW_TRACKING_URI"])
        log = log_dir / f"serve-{api}-{model}.log"
        proc, url = start_service(extra_env=env, log_path=log,
                                  workers={"api": api, "fraud": model, "router": model})
        try:
            rows, cpu = _run(_measure(url, seconds, seed, _roles(proc)))
        finally:
            stop_service(proc)
            r = redis.Redis.from_url(redis_url)
            for key in r.scan_iter(f"{prefix}:*"):
                r.delete(key)
    for r in rows:
        r["name"] = f"api {api}, model {model}: {r['name']}"
    return rows, cpu


def _speedups(results: list[tuple[str, list[dict]]]) -> list[str]:
    """Throughput of every configuration over the first's, per endpoint."""
    (base_name, base), lines = results[0], []
    for name, rows in results[1:]:
        ratios = [f"{ep} x{r['throughput_per_s'] / b['throughput_per_s']:.2f}"
                  for (ep, _), r, b in zip(ENDPOINTS, rows, base)]
        lines.append(f"{name} over {base_name}: " + ", ".join(ratios))
    return lines


def _parse(configs: str) -> list[tuple[int, int]]:
    from smartpay.errors import InputError

    out = []
    for part in configs.split(","):
        try:
            api, model = (int(x) for x in part.split(":"))
        except ValueError:
            raise InputError("--configs", part, "api:model worker counts, e.g. 2:1")
        if api < 1 or model < 1:
            raise InputError("--configs", part, "counts of at least 1")
        out.append((api, model))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="per endpoint and config")
    ap.add_argument("--configs", default="1:1,2:1,2:2",
                    help="comma list of api:model worker counts")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--postgres-admin-url",
                    default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--log-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "smartpay-bench-workers",
                    help="where each configuration's server log is written")
    args = ap.parse_args()
    configs = _parse(args.configs)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    _raise_fd_limit()
    from harness.standins import running_standins

    results, cpus = [], []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as harness_dir, \
            running_standins(Path(harness_dir)) as standins:
        for i, (api, model) in enumerate(configs):
            rows, cpu = run_config(standins, api, model, args.seconds, i + 1,
                                   args.redis_url, args.postgres_admin_url,
                                   args.log_dir)
            results.append((f"{api}:{model}", rows))
            cpus.append((f"{api}:{model}", cpu))
    print_table("Closed-loop capacity by worker count (prod profile, bentoml serve, "
                f"client on the same {os.cpu_count()} cores; load average before "
                f"{load[0]:.1f})", [r for _, rows in results for r in rows])
    for line in _speedups(results):
        print("speed-up " + line)
    for name, cpu in cpus:
        for ep, per in cpu.items():
            shares = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(per.items())
                               if v > 0.05)
            print(f"CPU {name} {ep}: {shares}")
    at = time.strftime("%H:%M UTC", time.gmtime())
    print(f"load average after: {os.getloadavg()[0]:.1f} ({at})")


if __name__ == "__main__":
    main()
