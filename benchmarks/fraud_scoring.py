"""Scoring latency of the loaded `fraud-detector@champion`, in process.

Single row: one transaction's features -> (score, decision, top features), as the
serving layer calls it; also the bare score without explanations. Batch: 1,000 rows,
with exact TreeSHAP contributions and with XGBoost's approximate (Saabas) ones.
Rows come from the champion's own test window. Run `smartpay train fraud` first.

    .venv/bin/python -m benchmarks.fraud_scoring
"""

from __future__ import annotations

import dataclasses
import time

from benchmarks._stats import print_table, row, time_calls


def main(n_single: int = 2000, n_batch: int = 100) -> None:
    from models.fraud import load
    from models.fraud.registry import connect

    t0 = time.perf_counter()
    predictor = load("champion")
    load_s = time.perf_counter() - t0
    approx = dataclasses.replace(predictor, approx_contribs=True)
    window = connect().load_frame(predictor.version)
    one = window.iloc[[0]]
    batch = window.sample(1000, replace=len(window) < 1000, random_state=0)
    rows = [
        row("single: predict (score+decision+top3)",
            time_calls(lambda: predictor.predict(one), n_single)),
        row("single: score only", time_calls(lambda: predictor.scores(one), n_single)),
        row("batch 1000: predict", time_calls(lambda: predictor.predict(batch), n_batch)),
        row("batch 1000: score only", time_calls(lambda: predictor.scores(batch), n_batch)),
        row("batch 1000: predict, approx contribs",
            time_calls(lambda: approx.predict(batch), n_batch)),
    ]
    for r in rows[2:]:
        r["rows_per_s"] = 1000 * r["throughput_per_s"]
    print_table(f"fraud-detector v{predictor.version} scoring "
                f"({len(predictor.features)} features, {predictor.booster.num_boosted_rounds()}"
                f" trees; load {load_s:.2f} s)", rows)


if __name__ == "__main__":
    main()
