"""`smartpay retrain router`: the router's scheduled retrain on what it served.

One run exports the served decisions of the last `--window` from the ledger (the same
rows `smartpay decisions export` writes), adds any `--logs` files (simulated or earlier
exports) before them, and hands the time-ordered log to the `train router` stage: the
earlier part trains, the newest part (the held-out served decisions) is DR-evaluated
with a confidence interval against the champion and the baseline policies, and the
challenger is registered and promoted only through the gate. Too few decisions is not
an error: the run says so and changes nothing, so a cron schedule can call it hourly.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

from cli import decisions_cmds, promote_cmds
from cli._ui import console, spinner
from smartpay.settings import get_settings


def combined_log(served, extra: list):
    """Extra logs first, then the served ones, as one time-ordered decision log.

    Served decisions carry no simulated truth, so the `p_true__*` columns of simulated
    logs are dropped once served rows are present (an OPE error needs truth for every
    held-out row)."""
    import pandas as pd

    parts = [*extra, *([served] if served is not None else [])]
    log = pd.concat(parts, ignore_index=True, sort=False)
    if served is not None and len(extra):
        log = log.drop(columns=[c for c in log if c.startswith("p_true__")])
    log["timestamp"] = pd.to_datetime(log["timestamp"], utc=True)
    return log.sort_values(["timestamp", "transaction_id"], kind="stable").reset_index(drop=True)


def retrain_router(
    window: str = typer.Option("7d", help="Served decisions of this last interval "
                               "(e.g. 7d, 24h) are exported from the ledger."),
    logs: list[Path] = typer.Option(None, "--logs", help="Extra decision-log parquet "
                                    "(simulated or an earlier export), placed before the "
                                    "served decisions. Repeatable."),
    min_decisions: int = typer.Option(500, help="Fewer decisions in all: skip this run."),
    config: Path = typer.Option(None, "--config", help="Gateway world / router YAML."),
    every: str = typer.Option(None, help="Repeat forever at this interval, e.g. 1h."),
    json_out: bool = typer.Option(False, "--json", help="Last line: the result as JSON."),
) -> None:
    """Train the VW router on the newest served decisions, gate it, register it."""
    from pipelines.fraud.pipeline import every as repeat

    span = timedelta(seconds=_interval(window, "--window"))
    if min_decisions < 10:
        raise typer.BadParameter(f"{min_decisions} is too few to train and hold out "
                                 "(at least 10)", param_hint="--min-decisions")
    for path in logs or []:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint="--logs")
    interval = _interval(every, "--every") if every is not None else None

    def once() -> None:
        result = _retrain_once(span, list(logs or []), min_decisions, config)
        _print(result, json_out)

    if interval is None:
        once()
        return
    repeat(interval, once, what="router retrain")


def _interval(text: str, option: str) -> float:
    from pipelines.fraud.nodes import parse_interval
    from smartpay.errors import InputError

    try:
        return parse_interval(text)
    except InputError:
        raise typer.BadParameter(f"{text!r} is not an interval like 7d, 24h or 30m",
                                 param_hint=option) from None


def _retrain_once(span: timedelta, logs: list[Path], min_decisions: int,
                  config: Path | None) -> dict:
    from models.router.config import load_config
    from models.router.served_log import decision_log
    from pipelines.router.pipeline import TrainParams, read_logs, train

    settings = get_settings()
    now = datetime.now(timezone.utc)
    rows = asyncio.run(decisions_cmds.served_rows(settings, now - span, None))
    served = decision_log(rows, load_config(config)) if rows else None
    extra = [read_logs(p) for p in logs]
    n_served = 0 if served is None else len(served)
    total = n_served + sum(len(e) for e in extra)
    base = {"served": n_served, "extra": total - n_served, "window_start": str(now - span)}
    if total < min_decisions:
        return {**base, "skipped": f"{total} decisions, fewer than --min-decisions "
                                   f"{min_decisions}; nothing registered"}
    log = combined_log(served, extra)
    path = settings.path("router", "retrain", f"decisions-{now:%Y%m%dT%H%M%SZ}.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    log.to_parquet(path, index=False)
    t0 = time.perf_counter()
    with spinner(f"Training the VW router on {total:,} decisions ({n_served:,} served)"):
        result = train(TrainParams(logs=path, config=config), settings)
    return {**base, "log": str(path), "seconds": round(time.perf_counter() - t0, 1), **result}


def _print(result: dict, json_out: bool) -> None:
    if "skipped" in result:
        console.print(f"router retrain skipped: {result['skipped']}")
    else:
        ch = result["challenger"]
        console.print(f"gateway-router v{result['version']} from {result['served']:,} served "
                      f"+ {result['extra']:,} other decisions: DR auth {ch['dr']:.4f} "
                      f"[{ch['dr_ci'][0]:.4f}, {ch['dr_ci'][1]:.4f}] on {ch['n']:,} held out; "
                      f"champion {result['champion_value']}; promoted={result['promoted']}")
        console.print("baselines (DR, same held-out decisions): " + ", ".join(
            f"{name} {est['dr']:.4f}" for name, est in result["baselines"].items()))
    if json_out:
        print(json.dumps(result, default=str))


promote_cmds.retrain_app.command("router")(retrain_router)
