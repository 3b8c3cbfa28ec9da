"""Wires the simulator nodes and writes the transactions partitioned by day, atomically.

The reference world (scale 1) is drawn in memory, exactly as always; larger worlds are
drawn and written one day at a time (`stream.world_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.io import write_partitioned_atomic
from pipelines.simulate import nodes, stream
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
    # Copies of the reference density (see `stream`); above 1 the world is streamed.
    scale: int = 1

    def __post_init__(self) -> None:
        for name in ("customers", "terminals", "days", "scale"):
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
    if params.scale != 1:
        raise InputError("scale", params.scale, "1 for an in-memory world (use run)")
    rng = np.random.default_rng(params.seed)
    customers = nodes.customer_profiles(params.customers, rng)
    terminals = nodes.terminal_profiles(params.terminals, rng)
    offsets, flat = nodes.terminals_within_radius(customers, terminals, params.radius)
    tx = nodes.genuine_transactions(customers, offsets, flat, params.days, rng)
    tx = nodes.add_frauds(tx, params.customers, params.terminals, rng)
    return nodes.add_payment_context(tx, customers, terminals, params.start_ts, rng)


def run(params: SimulationParams, out: Path) -> dict[str, float | int]:
    """Simulate and write `out` (a folder of day partitions); returns the summary."""
    if params.scale == 1:
        tx = simulate(params)
        write_partitioned_atomic(by_day(tx), out)
        return nodes.summarise(tx)
    totals = stream.Totals()
    days = ((day, totals.add(tx)) for day, tx in stream.world_days(params))
    write_partitioned_atomic(days, out)
    return totals.summary()


def by_day(tx: pd.DataFrame):
    """(YYYY-MM-DD, rows of that day) of a time-sorted frame, in order."""
    day = tx["timestamp"].dt.floor("D").to_numpy()
    cuts = np.flatnonzero(day[1:] != day[:-1]) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(tx)]):
        yield pd.Timestamp(day[lo]).strftime("%Y-%m-%d"), tx.iloc[lo:hi]
