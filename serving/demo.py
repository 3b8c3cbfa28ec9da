"""The end of `smartpay demo`: the whole flow under `bentoml serve`, with a live listener.

    from serving.demo import run_demo
    summary = run_demo(n_payments=3000, concurrency=8, port=None, print_summary=True)

`run_demo(n_payments: int = 3000, concurrency: int = 8, port: int | None = None,
print_summary: bool = True, extra_env: dict | None = None) -> dict` starts the gateway
stand-ins (`extra_env` adds variables for the service process) and
`bentoml serve serving.services:PaymentAPI` on a free 127.0.0.1 port (FraudScorer
with `fraud-detector@champion` + Feast online features, GatewayRouter with
`gateway-router@champion` or the fresh default), opens a WebSocket listener, replays
the latest `n_payments` simulated transactions from `<data>/raw/transactions.parquet`
through POST /pay (`concurrency` in flight; a 503 is retried up to 3 times with the
same Idempotency-Key), stops everything and returns:

    {"payments", "approved", "declined_fraud", "declined_other", "failed",
     "frauds_in_sample", "frauds_stopped", "legit_declined_as_fraud",
     "gateway_split": {gateway: n}, "rewards_minted", "reward_units",
     "events": {type: n}, "errors", "p50_ms", "p95_ms", "p99_ms",
     "throughput_per_s", "seconds"}

It raises `ModelUnavailable` when there is no fraud champion (train it first) and
`DataFileError` when the transactions have not been simulated.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

import numpy as np
import pandas as pd

from smartpay.errors import DataFileError
from smartpay.settings import get_settings


def load_payments(n: int) -> pd.DataFrame:
    """The latest n simulated transactions (the ones models saw least)."""
    path = get_settings().path("raw", "transactions.parquet")
    if not path.exists():
        raise DataFileError(path, "missing; run `smartpay simulate` first")
    return pd.read_parquet(path).tail(n).reset_index(drop=True)


def to_body(row) -> dict:
    """One simulated transaction as a /pay request (a test card token, never a PAN)."""
    return {"amount_minor": max(int(row.amount_minor), 1), "currency": row.currency,
            "customer_id": int(row.customer_id), "terminal_id": int(row.terminal_id),
            "card_id": int(row.card_id), "tx_epoch_s": int(row.timestamp.timestamp()),
            "card_network": row.card_network, "issuing_country": row.issuing_country,
            "merchant_category": row.merchant_category, "channel": row.channel,
            "payment_method": {"type": "card", "token": "pm_card_visa"}}


async def _listen(session, url: str, counts: Counter, minted: dict,
                  stop: asyncio.Event) -> None:
    """Count the merchant's events by type; keep each minted reward's amount (rewards
    are minted beside /pay, so its answer says `minting` and the event says how much)."""
    async with session.ws_connect(url, heartbeat=None) as ws:
        await ws.receive()
        while not stop.is_set():
            try:
                msg = await ws.receive(timeout=0.5)
            except asyncio.TimeoutError:
                continue
            if msg.type.name != "TEXT":
                break
            event = json.loads(msg.data)
            counts[event["type"]] += 1
            if event["type"] == "reward_minted":
                minted[event["payment_id"]] = event["data"]["amount"]


async def _replay(base: str, token: str, df: pd.DataFrame, concurrency: int) -> dict:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    counts, minted, stop = Counter(), {}, asyncio.Event()
    run_id = uuid.uuid4().hex[:8]  # a rerun on the same data pays again, not replays
    answers, lat, errors = [None] * len(df), [], []
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:
        listener = asyncio.create_task(_listen(
            session, base.replace("http", "ws") + f"/ws?token={token}", counts, minted, stop))
        await asyncio.sleep(0.5)

        async def one(i, row):
            async with sem:
                t0 = time.perf_counter()
                for attempt in range(4):  # a 503 is retried with the same key: safe
                    async with session.post(base + "/pay", json=to_body(row),
                                            headers=headers | {
                                                "Idempotency-Key": f"demo-{run_id}-{i}"}) as r:
                        body = await r.text()
                    if r.status != 503:
                        break
                    await asyncio.sleep(0.25 * 2**attempt)
                lat.append((time.perf_counter() - t0) * 1000)
                if r.status == 200:
                    answers[i] = json.loads(body)
                else:
                    errors.append(f"{r.status}: {body[:200]}")

        await _warm_up(session, base, headers, df)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i, row) for i, row in enumerate(df.itertuples())))
        seconds = time.perf_counter() - t0
        await _settle_events(counts, minted, len(df))
        stop.set()
        await listener
    return {"answers": answers, "lat": np.array(lat), "errors": errors,
            "events": dict(counts), "minted": minted, "seconds": seconds}


async def _settle_events(counts: Counter, minted: dict, n: int, quiet_s: float = 1.5,
                         limit_s: float = 15.0) -> None:
    """Wait until every payment's event came and no reward event arrived for
    `quiet_s` (the minter trails /pay by a batch), at most `limit_s`."""
    deadline, last = time.monotonic() + limit_s, (-1, time.monotonic())
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        if len(minted) != last[0]:
            last = (len(minted), time.monotonic())
        elif counts["payment_processed"] >= n and time.monotonic() - last[1] >= quiet_s:
            return


async def _warm_up(session, base: str, headers: dict, df: pd.DataFrame) -> None:
    """A few sequential scores first: the model service's adaptive batcher calibrates
    on its first requests and sheds load (503) if a burst arrives before that."""
    keys = ("amount_minor", "currency", "customer_id", "terminal_id", "card_id",
            "tx_epoch_s")
    for row in df.head(20).itertuples():
        body = {k: v for k, v in to_body(row).items() if k in keys}
        async with session.post(base + "/fraud", json=body, headers=headers) as r:
            await r.read()


def summarise(df: pd.DataFrame, run: dict) -> dict:
    """Approvals, frauds stopped, gateway split, rewards and latency of one replay."""
    ok = [a for a in run["answers"] if a is not None]
    status = Counter(a["status"] for a in ok)
    fraud_stop = np.array([a is not None and a["status"] == "declined"
                           and a["fraud_decision"] == "decline" for a in run["answers"]])
    is_fraud = df["is_fraud"].to_numpy() == 1
    minted = list(run.get("minted", {}).values())
    lat = run["lat"] if len(run["lat"]) else np.array([np.nan])
    return {
        "payments": len(df), "approved": status.get("captured", 0),
        "declined_fraud": int(fraud_stop.sum()),
        "declined_other": status.get("declined", 0) - int(fraud_stop.sum()),
        "failed": status.get("failed", 0), "frauds_in_sample": int(is_fraud.sum()),
        "frauds_stopped": int((fraud_stop & is_fraud).sum()),
        "legit_declined_as_fraud": int((fraud_stop & ~is_fraud).sum()),
        "gateway_split": dict(Counter(a["gateway"] for a in ok if a["status"] == "captured")),
        "rewards_minted": len(minted), "reward_units": int(sum(minted)),
        "events": run["events"], "errors": len(run["errors"]),
        "error_samples": run["errors"][:3],
        "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "throughput_per_s": len(run["lat"]) / run["seconds"] if run["seconds"] else 0.0,
        "seconds": round(run["seconds"], 1),
    }


def print_report(s: dict) -> None:
    """A short human summary of `summarise`'s output."""
    print(f"\nSmartPay demo: {s['payments']:,} payments through POST /pay "
          f"in {s['seconds']} s ({s['throughput_per_s']:.1f}/s, errors {s['errors']})")
    print(f"  approved {s['approved']:,}; declined as fraud {s['declined_fraud']:,} "
          f"(true frauds stopped {s['frauds_stopped']} of {s['frauds_in_sample']}, "
          f"legit declined {s['legit_declined_as_fraud']}); other declines "
          f"{s['declined_other']}; failed {s['failed']}")
    split = ", ".join(f"{g} {n:,}" for g, n in sorted(s["gateway_split"].items()))
    print(f"  gateway split: {split}")
    print(f"  rewards minted into escrow: {s['rewards_minted']:,} "
          f"({s['reward_units'] / 1e6:,.1f} SmartReward)")
    print(f"  events received on the WebSocket: {s['events']}")
    print(f"  /pay latency p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, "
          f"p99 {s['p99_ms']:.1f} ms")


def run_demo(n_payments: int = 3000, concurrency: int = 8, port: int | None = None,
             print_summary: bool = True, extra_env: dict | None = None) -> dict:
    """Start the service with stand-ins, replay payments, return the summary."""
    from harness.standins import running_local_service
    from serving.backends_real import _fraud_champion_version, ModelUnavailable
    from serving.security import issue_token

    df = load_payments(n_payments)
    if not (extra_env or {}).get("SMARTPAY_SERVING__FRAUD_BACKEND") and \
            not _fraud_champion_version():
        raise ModelUnavailable("fraud-detector@champion does not exist; train the fraud "
                               "model before the serving demo")
    settings = get_settings()
    token = issue_token(settings.jwt_secret.get_secret_value(), "demo-merchant",
                        ["payments:write", "payments:read"], 7200)
    env = {"SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
           "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000", **(extra_env or {})}
    with running_local_service(settings.data_path, port, extra_env=env) as url:
        run = asyncio.run(_replay(url, token, df, concurrency))
    summary = summarise(df, run)
    if print_summary:
        print_report(summary)
    return summary
