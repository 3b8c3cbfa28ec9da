"""Wires the simulator nodes and writes the transactions parquet (atomically)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.io import write_parquet_atomic
from pipelines.simulate import nodes
from smartpay.errors import InputError


@dataclass(frozen=True)
class SimulationParams:
    """Options of `smartpay simulate`, validated on construction."""

    customers: int = 5_000
    terminals: int = 10_000
    days: int = 183
    start: str = "2018-04-01"
    seed: int = 1
    radius: float = 5.0

    def __post_init__(self) -> None:
        for name in ("customers", "terminals", "days"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise InputError(name, value, "a positive integer")
        try:
            pd.Timestamp(self.start)
        except (ValueError, TypeError):
            raise InputError("start", self.start, "a date like 2018-04-01") from None

    @property
    def start_ts(self) -> pd.Timestamp:
        """Start of day one, UTC."""
        return pd.Timestamp(self.start).normalize().tz_localize(None)


def simulate(params: SimulationParams) -> pd.DataFrame:
    """All transactions of one simulated world, sorted by time, deterministic per seed."""
    rng = np.random.default_rng(params.seed)
    customers = nodes.customer_profiles(params.customers, rng)
    terminals = nodes.terminal_profiles(params.terminals, rng)
    offsets, flat = nodes.terminals_within_radius(customers, terminals, params.radius)
    tx = nodes.genuine_transactions(customers, offsets, flat, params.days, rng)
    tx = nodes.add_frauds(tx, params.customers, params.terminals, rng)
    return nodes.add_payment_context(tx, customers, terminals, params.start_ts, rng)


def run(params: SimulationParams, out: Path) -> dict[str, float | int]:
    """Simulate and write `out` (a .parquet file); returns the summary."""
    tx = simulate(params)
    write_parquet_atomic(tx, out)
    return nodes.summarise(tx)
