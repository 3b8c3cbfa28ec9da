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
def materialize(
    raw: Path = typer.Option(None, help="Raw transactions that start the fresh fraud "
                             "features (default: <data>/raw/transactions.parquet, "
                             "skipped when it does not exist)."),
) -> None:
    """Load the latest feature values of every entity into the online store, then
    start the fresh fraud features (live payments' pushes) from the raw transactions."""
    from pipelines.features.pipeline import materialize as run_materialize
    from pipelines.features.pipeline import seed_fresh

    settings = get_settings()
    t0 = time.perf_counter()
    with spinner("feast materialize"):
        counts = run_materialize(settings)
    for name, n in counts.items():
        console.print(f"[green]online[/] {name}: {n:,} entities")
    raw = raw or settings.path("raw", "transactions.parquet")
    if Path(raw).exists():
        with spinner("fresh features: event log and pushes"):
            n = seed_fresh(settings, Path(raw))
        console.print(f"[green]fresh[/] {n:,} (entity, payment) rows in the event log")
    else:
        console.print(f"no {raw}: the fresh features start from the next payments")
    console.print(f"materialize took {time.perf_counter() - t0:.1f} s")
