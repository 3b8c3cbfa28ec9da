"""`smartpay decisions export`: the served routing decisions of the ledger as a
decision log (parquet) that `smartpay train router --logs` learns from."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import typer

from cli._ui import console

app = typer.Typer(help="The served routing decision log.", no_args_is_help=True)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or time "
                                 "(e.g. 2026-12-01 or 2026-12-01T08:00)", param_hint=name)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Parquet file to write."),
    since: str = typer.Option(None, help="Only decisions from this UTC date/time on."),
    until: str = typer.Option(None, help="Only decisions before this UTC date/time."),
    config: Path = typer.Option(None, "--config", help="Gateway world / router YAML "
                                "(default: committed): its gateways and reward weights."),
) -> None:
    """Write the decisions the served router made (with the outcome of the attempt
    each routed) in the decision-log schema of `train router`."""
    from models.router.config import load_config
    from models.router.served_log import decision_log
    from smartpay.settings import get_settings

    start, end = _when(since, "--since"), _when(until, "--until")
    if out.suffix != ".parquet":
        raise typer.BadParameter(f"{out} must end in .parquet", param_hint="--out")
    rows = asyncio.run(served_rows(get_settings(), start, end))
    log = decision_log(rows, load_config(config))
    out.parent.mkdir(parents=True, exist_ok=True)
    log.to_parquet(out, index=False)
    rate = log["success"].mean()
    console.print(f"wrote {len(log):,} decisions to {out} (auth rate {rate:.4f}, "
                  f"{log['policy'].nunique()} policy version(s))")


async def served_rows(settings, since, until) -> list[dict]:
    """The ledger's served decisions with a known outcome in [since, until)."""
    from serving.composition import open_ledger

    ledger = await open_ledger(settings)
    try:
        return await ledger.decisions(since, until)
    finally:
        await ledger.close()
