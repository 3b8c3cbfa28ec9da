"""Wall time and peak memory of features build and training, pandas vs Spark, by world size.

For each world (1x = the reference 5,000 customers / 10,000 terminals / 183 days; 10x
and 30x streamed by `smartpay simulate --scale`), each step runs in its own child
process while this one samples the resident memory of the child's whole process tree
(Python, the Spark driver JVM and its Python workers) every 0.2 s:

- simulate: the day-partitioned raw table (engine-independent, measured once);
- features: `features build` on the engine;
- train: the newest protocol window's point-in-time training set from the
  `fraud_model_v1` FeatureService and one fit of the tuned model shape with fixed
  parameters (no search: the search is the same at every scale). pandas: the window
  from the DuckDB offline store in this process, `xgb.train`. spark: the window as a
  Spark frame from Feast's Spark offline store (the `cluster` profile,
  `pipelines.fraud.pipeline_spark`), its training week fitted by `xgboost.spark` with
  2 workers on local[2]; the driver heap is `SMARTPAY_SPARK__DRIVER_MEMORY` (4g).

A step whose process tree passes `--mem-cap-gb` (default 20 of this machine's 24 GB)
is killed by this process and reads "OOM (cap 20 GB)"; one the kernel kills, or that
raises MemoryError, reads "OOM". Since the machine is shared, a step is also killed
when its available memory falls under `--min-free-gb` (default 1), reading "stopped
(box under 1 GB free)": the step needed more than its peak, and more than this machine
had to give. Each step's output is in `<root>/logs/`. The machine has 2 cores shared
with other work: times are indicative; each row records the load average.

    nice -n 10 .venv/bin/python -m benchmarks.scale --scales 1,10,30 --root /work/scale
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

STEPS = (("simulate", "pandas"), ("features", "pandas"), ("features", "spark"),
         ("train", "pandas"), ("train", "spark"))
FIXED_PARAMS = {"max_depth": 6, "learning_rate": 0.1, "min_child_weight": 1.0,
                "subsample": 1.0, "colsample_bytree": 1.0, "scale_pos_weight": 1.0,
                "reg_lambda": 1.0, "max_bin": 256, "n_estimators": 100}


def _settings(data_dir: Path, engine: str):
    os.environ["SMARTPAY_DATA_DIR"] = str(data_dir)  # a child program, not a library
    os.environ["SMARTPAY_PROFILE"] = "cluster" if engine == "spark" else "local"
    os.environ["SMARTPAY_SPARK_MASTER"] = "local[2]"
    from smartpay.settings import get_settings

    return get_settings()


def run_step(step: str, engine: str, scale: int, data_dir: Path) -> dict:
    """One step in this process (the child); returns row counts."""
    settings = _settings(data_dir, engine)
    raw = settings.path("raw", "transactions.parquet")
    if step == "simulate":
        from pipelines.simulate.pipeline import SimulationParams, run

        ref = SimulationParams()  # k copies of the reference density, as the CLI draws
        world = SimulationParams(ref.customers * scale, ref.terminals * scale, scale=scale)
        return {"transactions": run(world, raw)["transactions"]}
    if step == "features":
        from pipelines.features import pipeline as features

        return features.build(settings, raw, validate=False, engine=engine).rows
    return _train(settings, engine)


def _train(settings, engine: str) -> dict:
    from models.fraud.estimators import fit_xgb, matrix
    from models.fraud.protocol import Columns, Windows
    from pipelines.features import pipeline as features
    from pipelines.fraud import nodes
    from pipelines.fraud.pipeline import feature_frame

    cols, w = Columns(), Windows()
    features.apply(settings)
    if engine == "pandas":
        df, feats, win = feature_frame(settings, w)
        split, _ = nodes.reference_splits(df, win["train_start"], w, cols)
        train = df.iloc[split.train]
        fit_xgb(matrix(train, feats), train[cols.label].to_numpy(), FIXED_PARAMS, feats)
        return {"window_rows": len(df), "train_rows": len(train)}
    from pyspark import StorageLevel

    from models.fraud.train_spark import fit_xgb_spark, training_frame
    from pipelines.fraud import nodes_spark, pipeline_spark
    from smartpay.spark import spark_session

    with spark_session(settings.spark_master, "smartpay-scale",
                       settings.spark.session_conf()) as spark:
        window, feats, win = pipeline_spark.feature_frame(spark, settings, w)
        window = window.persist(StorageLevel.MEMORY_AND_DISK)
        train = nodes_spark.train_rows(window, win["train_start"], w, cols)
        rows = {"window_rows": window.count(), "train_rows": train.count()}
        fit_xgb_spark(training_frame(train, feats, cols.label), feats, cols.label,
                      FIXED_PARAMS)
    return rows


def _tree(proc) -> list:

    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _tree_rss(procs) -> int:

    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _kill_tree(procs) -> None:

    for p in reversed(procs):  # children first, then the child itself
        try:
            p.kill()
        except psutil.Error:
            pass


def _watch(child, cap_bytes: int, floor_bytes: int) -> tuple[int, str]:
    """Sample the child's tree every 0.2 s until it exits; kill the tree when it passes
    the cap or the machine's available memory falls under the floor. (peak, reason)"""

    proc, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        procs = _tree(proc)
        rss = _tree_rss(procs)
        peak = max(peak, rss)
        if rss > cap_bytes:
            _kill_tree(procs)
            return peak, "cap"
        if psutil.virtual_memory().available < floor_bytes:
            _kill_tree(procs)
            return peak, "box"
        time.sleep(0.2)
    return peak, ""


def measure(step: str, engine: str, scale: int, data_dir: Path, cap_gb: float,
            floor_gb: float) -> dict:
    """Run one step in a child process; wall time, peak tree RSS and its outcome. The
    child's output goes to files (a pipe nobody reads would stall a chatty JVM)."""
    argv = [sys.executable, "-m", "benchmarks.scale", "--child", step, engine,
            str(scale), str(data_dir)]
    logs = data_dir.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out_path = logs / f"x{scale}-{step}-{engine}.out"
    err_path = logs / f"x{scale}-{step}-{engine}.err"
    t0 = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        peak, killed = _watch(child, int(cap_gb * 2**30), int(floor_gb * 2**30))
        child.wait()
    wall = time.perf_counter() - t0
    out, err = out_path.read_text(), err_path.read_text()
    if killed == "cap":
        status = f"OOM (cap {cap_gb:g} GB)"
    elif killed == "box":
        status = f"stopped (box under {floor_gb:g} GB free)"
    elif child.returncode == 0:
        status = "ok"
    else:
        status = "OOM" if child.returncode == -9 or "MemoryError" in err else "failed"
    rows = json.loads(out.strip().splitlines()[-1]) if status == "ok" else {}
    return {"scale": scale, "step": step, "engine": engine, "status": status,
            "wall_s": round(wall, 1), "peak_gb": round(peak / 2**30, 2), "rows": rows,
            "error": _last_error(err) if status in ("failed", "OOM") else ""}


def _last_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if "Error" in ln or "Exception" in ln]
    return (lines or err.strip().splitlines() or [""])[-1][:200]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,10,30")
    ap.add_argument("--root", type=Path, default=Path("/tmp/smartpay-scale"))
    ap.add_argument("--steps", default=",".join(f"{s}:{e}" for s, e in STEPS))
    ap.add_argument("--mem-cap-gb", type=float, default=20.0,
                    help="kill a step whose process tree passes this resident size")
    ap.add_argument("--min-free-gb", type=float, default=1.0,
                    help="kill a step when the machine's available memory falls under this")
    ap.add_argument("--json", type=Path, help="append each measured row here (JSON lines)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        step, engine, scale, data_dir = args.child
        print(json.dumps(run_step(step, engine, int(scale), Path(data_dir)), default=int))
        return
    steps = [tuple(s.split(":")) for s in args.steps.split(",")]
    print(f"{'world':>6} {'step':<9} {'engine':<7} {'status':<7} {'wall s':>8} "
          f"{'peak GB':>8}  load  rows", flush=True)
    for scale in [int(s) for s in args.scales.split(",")]:
        data_dir = (args.root / f"x{scale}").resolve()
        for step, engine in steps:
            r = measure(step, engine, scale, data_dir, args.mem_cap_gb, args.min_free_gb)
            r["load_avg"] = [round(x, 1) for x in os.getloadavg()]
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(r, default=int) + "\n")
            print(f"{str(scale) + 'x':>6} {step:<9} {engine:<7} {r['status']:<7} "
                  f"{r['wall_s']:>8.1f} {r['peak_gb']:>8.2f}  {r['load_avg'][1]:>4}  "
                  f"{r['rows'] or r['error']}",
                  flush=True)


if __name__ == "__main__":
    main()
