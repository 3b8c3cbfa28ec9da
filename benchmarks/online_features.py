"""Online feature read latency for the `fraud_model_v1` FeatureService, one entity row.

Builds a world in a temporary data dir, applies and materializes it for the local
profile (SQLite) and, when reachable, the prod profile (Redis online store, PostgreSQL
registry), then reads one entity row at a time through the Feast SDK, in process.

    python -m benchmarks.online_features [--customers 5000 --terminals 10000 --days 60 --n 2000]
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import warnings

import numpy as np

from benchmarks._stats import print_table, row, time_calls


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _prepare(profile: str, data_dir: str, raw_path: str):
    from smartpay.settings import reset_settings, get_settings

    os.environ["SMARTPAY_PROFILE"] = profile
    os.environ["SMARTPAY_DATA_DIR"] = data_dir
    if profile == "prod":
        os.environ.setdefault("SMARTPAY_REDIS_URL", "redis://127.0.0.1:6379/13")
        os.environ.setdefault("SMARTPAY_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/smartpay_bench")
    reset_settings()
    from pipelines.features.pipeline import apply, build, materialize

    settings = get_settings()
    build(settings, raw_path, validate=False)
    apply(settings)
    materialize(settings)
    from features.store import open_store

    return open_store(settings)


def _bench(store, tx, n: int, label: str) -> list[dict]:
    rng = np.random.default_rng(0)
    picks = tx.iloc[rng.integers(0, len(tx), n + 50)]
    service = store.get_feature_service("fraud_model_v1")
    rows = [{"customer_id": int(r.customer_id), "terminal_id": int(r.terminal_id),
             "amount_minor": int(r.amount_minor), "tx_epoch_s": 1_530_000_000}
            for r in picks.itertuples()]
    it = iter(rows)
    svc_lat = time_calls(lambda: store.get_online_features(
        features=service, entity_rows=[next(it)]).to_dict(), n, warmup=50)
    stored = ["customer_spending:cust_tx_count_30d", "customer_spending:cust_avg_amount_30d",
              "terminal_risk:term_fraud_share_7d"]
    it2 = iter(rows)
    raw_lat = time_calls(lambda: store.get_online_features(
        features=stored, entity_rows=[{k: v for k, v in next(it2).items()
                                       if k in ("customer_id", "terminal_id")}]).to_dict(),
        n, warmup=50)
    return [row(f"{label} fraud_model_v1 (with on-demand)", svc_lat),
            row(f"{label} stored views only", raw_lat)]


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--terminals", type=int, default=10000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    from pipelines.io import write_parquet_atomic
    from pipelines.simulate.pipeline import SimulationParams, simulate

    tx = simulate(SimulationParams(args.customers, args.terminals, args.days))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, "raw.parquet")
        write_parquet_atomic(tx, raw_path)
        store = _prepare("local", os.path.join(tmp, "local"), raw_path)
        results += _bench(store, tx, args.n, "sqlite")
        if _reachable(6379) and _reachable(5432):
            store = _prepare("prod", os.path.join(tmp, "prod"), raw_path)
            results += _bench(store, tx, args.n, "redis")
        else:
            print("redis/postgres not reachable: prod profile not measured")
    print_table(f"Online feature reads, one entity row, {len(tx):,} transactions", results)


if __name__ == "__main__":
    main()
