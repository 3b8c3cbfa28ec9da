"""Router benchmark: in-process `decide` latency (target p99 <= 1 ms), decide+learn
latency and learn throughput of the VW policy, on the default world.

Run: .venv/bin/python -m benchmarks.router [--n 5000]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks._stats import print_table, row, stopwatch, time_calls
from models.router import default_policy

NETWORKS = ["visa", "mastercard", "amex", "discover"]
COUNTRIES = [("US", "USD"), ("GB", "GBP"), ("DE", "EUR"), ("CA", "CAD")]
MCCS = ["grocery", "restaurants", "fuel", "electronics", "travel", "digital_goods"]


def contexts(n: int, seed: int = 0) -> list[tuple[dict, list[str]]]:
    """Varied payment contexts with their eligible gateways."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        country, currency = COUNTRIES[rng.integers(4)]
        ecommerce = rng.random() < 0.35
        ctx = dict(card_network=NETWORKS[rng.integers(4)], issuing_country=country,
                   currency=currency, amount_minor=int(rng.integers(100, 50_000)),
                   merchant_category=MCCS[rng.integers(6)],
                   channel="ecommerce" if ecommerce else "card_present",
                   hour=int(rng.integers(24)), risk_score=float(rng.uniform(0, 0.3)))
        eligible = ["stripe", "acquirer_eu", "acquirer_na"] + (["amazon_pay", "solana"] if ecommerce else [])
        out.append((ctx, eligible))
    return out


def main(n: int) -> None:
    policy = default_policy()
    cases = contexts(n)
    warm = [policy.decide(c, e, now_s=60.0 * i) for i, (c, e) in enumerate(cases[:2000])]
    for d in warm:
        policy.learn(d.decision_id, {"success": True, "latency_ms": 300.0})

    it = iter(range(10**9))
    pending: list[str] = []

    def decide() -> None:
        i = next(it)
        ctx, eligible = cases[i % n]
        pending.append(policy.decide(ctx, eligible, now_s=120_000.0 + i).decision_id)

    decide_ms = time_calls(decide, n)
    outcomes = [{"success": bool(k % 10), "latency_ms": 250.0} for k in range(len(pending))]
    with stopwatch() as t:
        for decision_id, outcome in zip(pending, outcomes):
            policy.learn(decision_id, outcome)
    learn_rate = len(pending) / t[0]

    def round_trip() -> None:
        i = next(it)
        ctx, eligible = cases[i % n]
        d = policy.decide(ctx, eligible, now_s=240_000.0 + i)
        policy.learn(d.decision_id, {"success": True, "latency_ms": 300.0})

    both_ms = time_calls(round_trip, n)
    print_table("gateway router (VW cb_explore_adf, default world)", [
        row("decide", decide_ms, target_p99_ms=1.0),
        row("learn (throughput)", np.full(len(pending), 1000.0 / learn_rate), seconds=t[0]),
        row("decide+learn", both_ms),
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    main(parser.parse_args().n)
