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
    from pipelines.features.pipeline import apply, build, materialize, seed_fresh
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
        fresh = seed_fresh(settings, raw)
    console.print(", ".join(f"{k}: {v:,} entities" for k, v in counts.items())
                  + f", {fresh:,} event-log rows for the fresh features"
                  + f" [{time.perf_counter() - t0:.1f} s]")
    return raw


def _run_stage(*args: str) -> None:
    """Run one lifecycle command as a user would; its output streams through."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "cli.main", *args])
    if result.returncode != 0:
        console.print(f"[red]stage failed[/]: smartpay {' '.join(args)} (exit {result.returncode})")
        raise typer.Exit(result.returncode)


def model_stages(trials: int, router_days: int) -> None:
    """Train and register the fraud detector and the gateway router."""
    t0 = _stage("6. train fraud detector (Feast fraud_model_v1 -> MLflow fraud-detector)")
    _run_stage("train", "fraud", "--trials", str(trials))
    console.print(f"[{time.perf_counter() - t0:.0f} s]")
    t0 = _stage("7. train gateway router (VW cb_adf from logged decisions -> MLflow)")
    _run_stage("train", "router", "--days", str(router_days), "--customers", "3000")
    console.print(f"[{time.perf_counter() - t0:.0f} s]")


def kb_stage() -> None:
    """Embed the assistant's knowledge base and save the index, so `serve` loads the
    assistant at start-up and the first /chat answers at once."""
    t0 = _stage("8. build the assistant's knowledge index (MiniLM + FAISS)")
    _run_stage("kb", "build")
    console.print(f"[{time.perf_counter() - t0:.0f} s]")


def serving_stage(n_payments: int) -> None:
    """Serve everything and replay payments through /pay with a WebSocket listener."""
    from serving.demo import run_demo

    t0 = _stage(f"9. serve and replay {n_payments:,} payments through POST /pay")
    run_demo(n_payments=n_payments, print_summary=True)
    console.print(f"[{time.perf_counter() - t0:.0f} s]")


def demo(
    customers: int = typer.Option(DEMO["customers"], help="Customers in the demo world."),
    terminals: int = typer.Option(DEMO["terminals"], help="Terminals in the demo world."),
    days: int = typer.Option(DEMO["days"], help="Days to simulate."),
    seed: int = typer.Option(DEMO["seed"], help="Random seed."),
    payments: int = typer.Option(3_000, help="Payments replayed through /pay."),
    trials: int = typer.Option(10, help="Optuna trials for the tuned fraud model."),
    data_only: bool = typer.Option(False, help="Stop after the feature stages."),
) -> None:
    """Run the main job end to end on the embedded default (no servers to start)."""
    settings = get_settings()
    t_all = time.perf_counter()
    console.print(f"SmartPay demo, profile [bold]{settings.profile}[/], data in {settings.data_path}")
    data_stages(settings, customers, terminals, days, seed)
    if not data_only:
        model_stages(trials, router_days=7)
        kb_stage()
        serving_stage(payments)
    console.rule()
    console.print(f"[green]demo finished[/] in {time.perf_counter() - t_all:.0f} s")
