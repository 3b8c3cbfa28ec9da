"""The simulator drawn one day at a time, for worlds too large to hold in memory.

A world at `scale` k is k copies of the reference density: k times the customers and
terminals on a grid sqrt(k) times wider (so each customer still has ~78 terminals in
reach), and k times the compromised terminals (2k) and customers (3k) a day. Profiles
and the compromise schedule are small and drawn first; then each day's transactions
come from their own random stream (seed, day), so memory is one day's rows.

Same design as `pipeline.simulate`, two differences: the random streams differ (a
scale-1 world drawn here is not the reference world byte for byte), and scenario 3
makes each transaction of a compromised customer fraud with probability 1/3 instead
of picking exactly a third of them (which needs the whole 14 days at once).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from pipelines.simulate import nodes

TERMINAL_COMPROMISE_DAYS = 28
CUSTOMER_COMPROMISE_DAYS = 14


def world_days(params) -> Iterator[tuple[str, pd.DataFrame]]:
    """(YYYY-MM-DD, that day's transactions) in time order; ids run across days."""
    rng = np.random.default_rng(params.seed)
    side = 100.0 * math.sqrt(params.scale)
    customers = nodes.customer_profiles(params.customers, rng, side)
    terminals = nodes.terminal_profiles(params.terminals, rng, side)
    offsets, flat = nodes.terminals_within_radius(customers, terminals, params.radius)
    bad_terms, bad_custs = _compromise_schedule(params, rng)
    next_id = 0
    for d in range(params.days):
        day_rng = np.random.default_rng([params.seed, d])
        tx = nodes.genuine_transactions(customers, offsets, flat, 1, day_rng)
        tx["tx_time_s"] += d * nodes.DAY_S
        tx["tx_day"] = d
        tx = _label(tx, _active(bad_terms, d, TERMINAL_COMPROMISE_DAYS),
                    _active(bad_custs, d, CUSTOMER_COMPROMISE_DAYS), day_rng)
        out = nodes.add_payment_context(tx, customers, terminals, params.start_ts,
                                        day_rng)
        out["transaction_id"] += next_id
        next_id += len(out)
        yield (params.start_ts + pd.Timedelta(days=d)).strftime("%Y-%m-%d"), out


def _compromise_schedule(params, rng) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the terminals (2 x scale) and customers (3 x scale) compromised."""
    k = params.scale
    terms = np.stack([rng.choice(params.terminals, 2 * k, replace=False)
                      for _ in range(params.days)])
    custs = np.stack([rng.choice(params.customers, 3 * k, replace=False)
                      for _ in range(params.days)])
    return terms, custs


def _active(schedule: np.ndarray, day: int, length: int) -> np.ndarray:
    """Ids compromised on one of the `length` days up to and including `day`."""
    return np.unique(schedule[max(0, day - length + 1): day + 1])


def _label(tx: pd.DataFrame, bad_terms: np.ndarray, bad_custs: np.ndarray,
           rng: np.random.Generator) -> pd.DataFrame:
    """The three scenarios on one day's rows (later scenarios override earlier ones)."""
    amount = tx["amount"].to_numpy().copy()
    scenario = np.where(amount > 220, 1, 0).astype(np.int8)
    scenario[np.isin(tx["terminal_id"].to_numpy(), bad_terms)] = 2
    third = rng.random(len(tx)) < 1 / 3
    hit = np.isin(tx["customer_id"].to_numpy(), bad_custs) & third
    amount[hit] *= 5.0
    scenario[hit] = 3
    return tx.assign(amount=np.round(amount, 2), fraud_scenario=scenario,
                     is_fraud=(scenario > 0).astype(np.int8))


class Totals:
    """Running `nodes.summarise` over days."""

    def __init__(self) -> None:
        self.counts = {"transactions": 0, "frauds": 0, "scenario_1": 0, "scenario_2": 0,
                       "scenario_3": 0}

    def add(self, tx: pd.DataFrame) -> pd.DataFrame:
        for key, value in nodes.summarise(tx).items():
            if key in self.counts:
                self.counts[key] += value
        return tx

    def summary(self) -> dict[str, float | int]:
        n = self.counts["transactions"]
        return {**self.counts, "fraud_rate": self.counts["frauds"] / n if n else 0.0}
