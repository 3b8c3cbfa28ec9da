"""Does the tuned XGBoost trained on Spark match the one-process model? Test-week AP.

On the reference world (5,000 customers, 10,000 terminals, 183 days; built in
`--data-dir` unless it is there already) the newest protocol window is fetched from
the `fraud_model_v1` FeatureService, the parameters are selected once on the
prequential folds, and the same parameters are fitted twice on the same training
window: by `xgb.train` in this process and by `xgboost.spark` with 2 workers on
local[2]. Both are scored on the same test week. Acceptance: |AP difference| <= 0.01.

    .venv/bin/python -m benchmarks.spark_parity --data-dir /tmp/ref-world
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def _world(settings, customers: int, terminals: int, days: int, seed: int) -> None:
    from features.store import tables_dir
    from pipelines.features import pipeline as features
    from pipelines.simulate.pipeline import SimulationParams, run

    raw = settings.path("raw", "transactions.parquet")
    if not raw.exists():
        run(SimulationParams(customers=customers, terminals=terminals, days=days,
                             seed=seed), raw)
    if not any(tables_dir(settings).glob("*.parquet")):
        features.build(settings, raw, validate=False)
    features.apply(settings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--customers", type=int, default=5_000)
    ap.add_argument("--terminals", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=183)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    os.environ["SMARTPAY_DATA_DIR"] = str(args.data_dir.resolve())  # a program, not a library
    from models.fraud.estimators import fit_xgb, matrix, score_booster
    from models.fraud.metrics import average_precision
    from models.fraud.protocol import Columns, Windows
    from models.fraud.selection import tune_xgb
    from models.fraud.train_spark import fit_xgb_spark, training_frame
    from pipelines.fraud import nodes
    from pipelines.fraud.pipeline import feature_frame
    from smartpay.settings import get_settings
    from smartpay.spark import spark_session

    settings, cols, w = get_settings(), Columns(), Windows()
    t0 = time.perf_counter()
    _world(settings, args.customers, args.terminals, args.days, args.seed)
    df, feats, win = feature_frame(settings, w)
    split, folds = nodes.reference_splits(df, win["train_start"], w, cols)
    t_data = time.perf_counter() - t0
    sel = tune_xgb(df, folds, feats, cols.label, args.trials, 0, 1, None, cols.card)
    train, test = df.iloc[split.train], df.iloc[split.test]
    y, x_te = test[cols.label].to_numpy(), matrix(test, feats)
    t1 = time.perf_counter()
    one = fit_xgb(matrix(train, feats), train[cols.label].to_numpy(), sel.params, feats,
                  0, 1)
    t_one = time.perf_counter() - t1
    with spark_session(args.master, "smartpay-parity") as spark:
        t2 = time.perf_counter()
        rows = spark.createDataFrame(train[[*feats, cols.label]])
        dist = fit_xgb_spark(training_frame(rows, feats, cols.label), feats,
                             cols.label, sel.params, 0, 2)
        t_dist = time.perf_counter() - t2
    ap_one = average_precision(y, score_booster(one, x_te))
    ap_dist = average_precision(y, score_booster(dist, x_te))
    print(f"reference world: {len(train):,} training rows, {len(test):,} test rows "
          f"({int(y.sum())} frauds); data {t_data:.0f} s; params {sel.params}")
    print(f"{'engine':<28}{'test AP':>10}{'fit s':>10}")
    print(f"{'pandas (xgb.train)':<28}{ap_one:>10.4f}{t_one:>10.1f}")
    print(f"{'spark (xgboost.spark, 2w)':<28}{ap_dist:>10.4f}{t_dist:>10.1f}")
    diff = ap_dist - ap_one
    print(f"AP difference {diff:+.4f}: {'within' if abs(diff) <= 0.01 else 'OUTSIDE'} 0.01")


if __name__ == "__main__":
    main()
