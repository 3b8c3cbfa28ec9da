"""Online feature read latency for the `fraud_model_v1` FeatureService, one entity row,
and what each payment adds to keep them fresh.

Builds a world in a temporary data dir, applies and materializes it for the local
profile (SQLite) and, when reachable, the prod profile (Redis online store, PostgreSQL
registry), then reads one entity row at a time through the Feast SDK, in process. The
fresh-feature rows time the bus subscriber (`serving.fresh_features`) on one payment
at a time: its customer's and terminal's event-log updates, then the two Feast pushes
(in its worker thread), as the API process runs it after each payment; and the two
event-log updates alone.

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
    from pipelines.features.pipeline import apply, build, materialize, seed_fresh

    settings = get_settings()
    build(settings, raw_path, validate=False)
    apply(settings)
    materialize(settings)
    seed_fresh(settings, raw_path)  # the event log holds the last 37 days, as served
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


def _payment_events(tx, n: int) -> list:
    """`payment_created` events of n payments after the world's last transaction."""
    from serving.events import Event

    rng = np.random.default_rng(1)
    picks = tx.iloc[rng.integers(0, len(tx), n)]
    t0 = int(tx["timestamp"].max().timestamp()) + 1
    return [Event(id=f"bench-{i}:created", type="payment_created", merchant_id="bench",
                  payment_id=f"bench-{i}",
                  data={"customer_id": int(r.customer_id), "terminal_id": int(r.terminal_id),
                        "amount_minor": int(r.amount_minor), "currency": "USD",
                        "tx_epoch_s": t0 + 7 * i})
            for i, r in enumerate(picks.itertuples())]


def _bench_fresh(tx, n: int, label: str) -> list[dict]:
    """Per-payment cost of the fresh features, warm-up excluded: the subscriber after a
    payment (log + push), the slide before scoring (the part on `/pay`'s path), and
    the two event-log updates alone."""
    import asyncio
    import time

    from serving.composition import fresh_features
    from smartpay.settings import get_settings

    events, warmup = _payment_events(tx, 2 * n + 100), 50

    async def timed(calls) -> np.ndarray:
        out = []
        for call in calls:
            t0 = time.perf_counter()
            await call()
            out.append((time.perf_counter() - t0) * 1000)
        return np.array(out[warmup:])

    async def run() -> tuple[np.ndarray, ...]:
        fresh = fresh_features(get_settings())
        pushed = []

        async def slide(d):
            pushed.append(await fresh.slide(d["customer_id"], d["terminal_id"],
                                            d["tx_epoch_s"]))

        async def log_only(e):
            d = e.data
            await fresh.events.add("customer", d["customer_id"], e.payment_id,
                                   d["tx_epoch_s"], d["amount_minor"])
            await fresh.events.add("terminal", d["terminal_id"], e.payment_id,
                                   d["tx_epoch_s"], d["amount_minor"])

        first, second = events[:n + warmup], events[n + warmup:]
        try:
            full = await timed(lambda e=e: fresh.handle(e) for e in first)
            assert fresh.pushed == len(first), "the registry has no push sources"
            slides = await timed(lambda e=e: slide(e.data) for e in second)
            log = await timed(lambda e=e: log_only(e) for e in second)
        finally:
            await fresh.aclose()
        return full, slides, log, np.mean(np.array(pushed[warmup:]) > 0)

    full, slides, log, share = asyncio.run(run())
    return [row(f"{label} fresh: log + push after a payment", full),
            row(f"{label} fresh: slide before scoring", slides,
                pushed_share=round(float(share), 3)),
            row(f"{label} fresh: event log only", log)]


def _drop_fresh_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(os.environ["SMARTPAY_REDIS_URL"])
    try:
        keys = list(client.scan_iter(f"{prefix}:fresh:*", count=10_000))
        for i in range(0, len(keys), 10_000):
            client.delete(*keys[i:i + 10_000])
    finally:
        client.close()


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
        results += _bench_fresh(tx, args.n, "sqlite")
        if _reachable(6379) and _reachable(5432):
            prefix = os.environ["SMARTPAY_SERVING__REDIS_PREFIX"] = f"bench{os.getpid()}"
            store = _prepare("prod", os.path.join(tmp, "prod"), raw_path)
            results += _bench(store, tx, args.n, "redis")
            try:
                results += _bench_fresh(tx, args.n, "redis")
            finally:
                _drop_fresh_keys(prefix)
        else:
            print("redis/postgres not reachable: prod profile not measured")
    print_table(f"Online feature reads, one entity row, {len(tx):,} transactions", results)


if __name__ == "__main__":
    main()
