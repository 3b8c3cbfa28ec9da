"""`smartpay simulate` and `smartpay validate`: the data stages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from cli._ui import console, spinner
from smartpay.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add the data-stage commands to the root app."""
    app.command("simulate")(simulate)
    app.command("validate")(validate)


def simulate(
    customers: int = typer.Option(5_000, help="Number of customers."),
    terminals: int = typer.Option(10_000, help="Number of terminals."),
    days: int = typer.Option(183, help="Number of days to simulate."),
    start: str = typer.Option("2018-04-01", help="First day (YYYY-MM-DD)."),
    seed: int = typer.Option(1, help="Random seed: same seed, same data."),
    scale: int = typer.Option(
        1, min=1, help="World size in copies of the reference (10 = 50,000 customers); "
        "above 1 it is written day by day."),
    out: Path = typer.Option(None, help="Output folder of day partitions (default: "
                             "<data>/raw/transactions.parquet)."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate card transactions with three fraud scenarios (handbook design)."""
    from pipelines.simulate.pipeline import SimulationParams, run

    params = SimulationParams(customers * scale, terminals * scale, days, start, seed,
                              scale=scale)
    out = out or get_settings().path("raw", "transactions.parquet")
    t0 = time.perf_counter()
    with spinner(f"Simulating {params.customers:,} customers x {days} days"):
        summary = run(params, Path(out))
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["out"] = str(out)
    if json_out:
        print(json.dumps(summary))
        return
    console.print(
        f"[green]simulated[/] {summary['transactions']:,} transactions, "
        f"{summary['frauds']:,} frauds ({summary['fraud_rate']:.3%}; scenarios "
        f"1/2/3 = {summary['scenario_1']}/{summary['scenario_2']}/{summary['scenario_3']})"
        f" in {summary['seconds']} s -> {out}"
    )


def validate(
    table: Path = typer.Option(None, help="Transactions parquet to check (default: raw)."),
    features: bool = typer.Option(True, help="Also check the built feature tables."),
) -> None:
    """Run the Great Expectations suites; exit non-zero on any failed expectation."""
    from pipelines.validate.pipeline import validate_all

    settings = get_settings()
    table = table or settings.path("raw", "transactions.parquet")
    with spinner("Validating with Great Expectations"):
        reports = validate_all(settings, Path(table), include_features=features)
    failed = False
    for rep in reports:
        failed |= not rep.success
        colour = "green" if rep.success else "red"
        console.print(f"[{colour}]{rep.suite}[/]: {rep.summary_line()}")
        for line in rep.failure_lines():
            console.print(f"   [red]x[/] {line}")
    if failed:
        raise typer.Exit(1)
