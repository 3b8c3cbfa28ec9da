"""The floor phase of the load test: the bare BentoML services of
`benchmarks.floor_services`, each under its own `bentoml serve` (one worker), driven
closed loop for capacity and open loop at the design rate, with CPU per request.

The API's figures are then also given as a share of the bare XGBoost service's
capacity measured in the same run (`ratios`), so runs on different boxes compare.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from benchmarks.load_cpu import CpuMeter, family, per_request_ms
from benchmarks.load_drive import build_requests, closed_loop, open_loop, summarise

ROOT = Path(__file__).resolve().parents[1]
FLOORS = (("constant", "ConstantFloor"), ("xgboost", "XGBoostFloor"))


@contextmanager
def running_floor(service: str, model: str, log: Path) -> Iterator[tuple[object, str]]:
    """`bentoml serve benchmarks.floor_services:<service>` on a free port; yields
    (process, base URL) once /readyz answers, stops its process group after."""
    from harness.processes import server_process
    from harness.server import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("bentoml")), "serve",
           f"benchmarks.floor_services:{service}", "--host", "127.0.0.1",
           "--port", str(port)]
    env = {"SMARTPAY_FLOOR_MODEL": model,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    with server_process(cmd, f"{url}/readyz", log, env=env, timeout_s=180,
                        cwd=ROOT) as proc:
        yield proc, url


async def _model_info(url: str) -> dict:
    from benchmarks._wire import HttpPool, request_bytes

    pool = HttpPool(url, limit=1)
    await pool.open(1)
    status, body = await pool.request(request_bytes("POST", url.split("//", 1)[1],
                                                    "/model", {}, {}))
    pool.close()
    if status != 200:
        raise RuntimeError(f"floor service /model answered {status}: {body[:200]!r}")
    return json.loads(body)


def vectors(n_features: int, n: int, seed: int = 0) -> list[dict]:
    """`n` request bodies of random non-negative feature vectors (the shape of the
    model's input; the trees' cost hardly depends on the values)."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 50.0, size=(n, n_features)).round(3)
    return [{"features": row.tolist()} for row in x]


async def measure_floor(name: str, url: str, n_features: int, seconds: float,
                        rate: float, concurrency: int, meter: CpuMeter,
                        warmup_s: float) -> list[dict]:
    """Closed-loop capacity, then the open loop at `rate`; a row each, with CPU ms per
    request by process."""
    rows = []
    raw = build_requests(url, "/score", vectors(n_features, int(rate * max(
        seconds, warmup_s)) + 1), {})
    await open_loop(url, raw[: int(rate * warmup_s)], rate)  # warm-up, not reported
    big = raw * (1 + int(3000 * seconds) // len(raw))  # closed loop may outrun `rate`
    for label, coro in ((f"floor {name} closed c={concurrency}",
                         closed_loop(url, big, concurrency, seconds)),
                        (f"floor {name} @{rate:g}/s",
                         open_loop(url, raw[: int(rate * seconds)], rate))):
        before = meter.sample()
        run = await coro
        r = summarise(label, run, "-" if "closed" in label else rate)
        r["cpu_ms_per_request"] = per_request_ms(before, meter.sample(), r["ok"])
        rows.append(r)
    return rows


async def floor_phase(seconds: float, rate: float, concurrency: int, model: str,
                      meter: CpuMeter, log_dir: Path, warmup_s: float) -> dict:
    """Both floors one after the other (the other one stopped); rows and the model."""
    out: dict = {"rows": [], "model": model}
    for name, service in FLOORS:
        log = log_dir / f"floor-{name}.log"
        with running_floor(service, model, log) as (proc, url):
            meter.watch("floor", lambda p=proc, n=name: family(f"floor_{n}", p))
            try:
                n_features = 3
                if name == "xgboost":
                    info = await _model_info(url)
                    out["model_version"], n_features = info["version"], len(
                        info["features"])
                out["rows"] += await measure_floor(name, url, n_features, seconds, rate,
                                                   concurrency, meter, warmup_s)
            finally:
                meter.forget("floor")
    return out


def ratios(api: dict[str, dict], floor_rows: list[dict]) -> dict[str, dict]:
    """Each API closed-loop capacity as % of the bare XGBoost service's, with its
    target share (issue #17): /fraud and /route >= 60 %, /pay >= 25 %."""
    xgb = next((r for r in floor_rows if r["name"].startswith("floor xgboost closed")),
               None)
    out = {}
    if not xgb or not xgb["achieved_per_s"]:
        return out
    for ep, share in (("/fraud", 60.0), ("/route", 60.0), ("/pay", 25.0)):
        row = api.get(ep)
        if row is None:
            continue
        pct = 100.0 * row["achieved_per_s"] / xgb["achieved_per_s"]
        out[ep] = {"api_per_s": round(row["achieved_per_s"], 1),
                   "floor_per_s": round(xgb["achieved_per_s"], 1),
                   "percent": round(pct, 1), "target_percent": share,
                   "meets_target": pct >= share}
    return out
