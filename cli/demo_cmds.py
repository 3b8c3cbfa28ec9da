"""`smartpay demo`: the main job end to end on the embedded default.

Stages run in lifecycle order and each prints what it did. Later stages (models,
serving) are added here as they exist; a stage's failure stops the demo non-zero.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from cli._ui import console, spinner
from smartpay.settings import get_settings

DEMO = {"customers": 2_000, "terminals": 4_000, "days": 90, "seed": 1}


def register(app: typer.Typer) -> None:
    """Add `demo` to the root app."""
    app.command("demo")(demo)


def _stage(title: str):
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def data_stages(settings, customers: int, terminals: int, days: int, seed: int) -> Path:
    """simulate -> validate -> features build -> apply -> materialize."""
    from pipelines.features.pipeline import apply, build, materialize
    from pipelines.simulate.pipeline import SimulationParams, run
    from pipelines.validate.pipeline import validate_transactions
    from pipelines.io import read_table

    raw = settings.path("raw", "transactions.parquet")
    t0 = _stage("1. simulate")
    with spinner("simulating"):
        s = run(SimulationParams(customers, terminals, days, seed=seed), raw)
    console.print(f"{s['transactions']:,} transactions, {s['frauds']:,} frauds "
                  f"({s['fraud_rate']:.2%}), scenarios 1/2/3 = "
                  f"{s['scenario_1']}/{s['scenario_2']}/{s['scenario_3']} "
                  f"[{time.perf_counter() - t0:.1f} s]")
    t0 = _stage("2. validate raw transactions (Great Expectations)")
    with spinner("validating"):
        rep = validate_transactions(read_table(raw), settings)
    console.print(f"transactions: {rep.summary_line()} [{time.perf_counter() - t0:.1f} s]")
    if not rep.success:
        for line in rep.failure_lines():
            console.print(f"  [red]x[/] {line}")
        raise typer.Exit(1)
    t0 = _stage("3. features build (validated before writing)")
    with spinner("building feature tables"):
        result = build(settings, raw)
    for name, n in result.rows.items():
        console.print(f"{name}: {n:,} rows")
    console.print(f"[{time.perf_counter() - t0:.1f} s]")
    t0 = _stage("4. feast apply")
    with spinner("applying"):
        names = apply(settings)
    console.print(f"{len(names)} objects registered [{time.perf_counter() - t0:.1f} s]")
    t0 = _stage("5. feast materialize (online store)")
    with spinner("materializing"):
        counts = materialize(settings)
    console.print(", ".join(f"{k}: {v:,} entities" for k, v in counts.items())
                  + f" [{time.perf_counter() - t0:.1f} s]")
    return raw


def demo(
    customers: int = typer.Option(DEMO["customers"], help="Customers in the demo world."),
    terminals: int = typer.Option(DEMO["terminals"], help="Terminals in the demo world."),
    days: int = typer.Option(DEMO["days"], help="Days to simulate."),
    seed: int = typer.Option(DEMO["seed"], help="Random seed."),
) -> None:
    """Run the main job end to end on the embedded default (no servers to start)."""
    settings = get_settings()
    t_all = time.perf_counter()
    console.print(f"SmartPay demo, profile [bold]{settings.profile}[/], data in {settings.data_path}")
    data_stages(settings, customers, terminals, days, seed)
    console.rule()
    console.print(f"[green]demo finished[/] in {time.perf_counter() - t_all:.0f} s")
