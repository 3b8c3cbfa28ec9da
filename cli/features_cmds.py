"""`smartpay features build|apply|materialize`: the Feast stages."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from cli._ui import console, spinner
from smartpay.settings import Engine, get_settings

app = typer.Typer(help="Build offline feature tables, register them in Feast, load the online store.",
                  no_args_is_help=True)


@app.command("build")
def build(
    raw: Path = typer.Option(None, help="Raw transactions parquet (default: <data>/raw/transactions.parquet)."),
    validate: bool = typer.Option(True, help="Run the feature suites before writing."),
    engine: Engine = typer.Option(
        None, help="pandas (one process) or spark (at SMARTPAY_SPARK_MASTER); "
        "default: the profile's engine."),
) -> None:
    """Compute the point-in-time feature tables (validated, then written all at once)."""
    from pipelines.features.pipeline import build as run_build

    settings = get_settings()
    raw = raw or settings.path("raw", "transactions.parquet")
    t0 = time.perf_counter()
    engine = engine or settings.data_engine
    with spinner(f"Computing feature tables on {engine}"):
        result = run_build(settings, Path(raw), validate=validate, engine=engine)
    for name, n in result.rows.items():
        console.print(f"[green]built[/] {name}: {n:,} rows -> {result.paths[name]}")
    console.print(f"features build took {time.perf_counter() - t0:.1f} s")


@app.command("apply")
def apply() -> None:
    """Register entities, views and FeatureServices in the profile's registry."""
    from pipelines.features.pipeline import apply as run_apply

    with spinner("feast apply"):
        names = run_apply(get_settings())
    console.print(f"[green]applied[/] {len(names)} objects: {', '.join(names)}")


@app.command("materialize")
def materialize() -> None:
    """Load the latest feature values of every entity into the online store."""
    from pipelines.features.pipeline import materialize as run_materialize

    t0 = time.perf_counter()
    with spinner("feast materialize"):
        counts = run_materialize(get_settings())
    for name, n in counts.items():
        console.print(f"[green]online[/] {name}: {n:,} entities")
    console.print(f"materialize took {time.perf_counter() - t0:.1f} s")
