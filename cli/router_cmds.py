"""`smartpay evaluate router` and `smartpay train router`: the gateway router stages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from cli import evaluate_cmds, promote_cmds, train_cmds
from cli._ui import console, spinner
from smartpay.settings import get_settings

POLICY_ORDER = ("static_rule", "random", "sliding_window_sr", "thompson", "vw")


def evaluate_router(
    days: int = typer.Option(30, help="Simulated days to replay."),
    customers: int = typer.Option(10_000, help="Simulated customers (about 2 payments a day each)."),
    seed: int = typer.Option(1, help="Random seed of transactions and outcomes."),
    world: str = typer.Option("default", "--world", help="Committed gateway world: default or "
                              "regional (ignored when --config is given)."),
    config: Path = typer.Option(None, "--config", help="Gateway world YAML (default: --world's)."),
    registered: str = typer.Option(None, "--registered", help="Also replay this registered "
                                   "gateway-router version (or alias, e.g. champion) on its own."),
    workers: int = typer.Option(2, help="Processes replaying policies in parallel."),
    out: Path = typer.Option(None, help="Output folder (default: <data>/router)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON on the last line."),
    through_api: bool = typer.Option(False, "--through-api", help="Drive one simulated "
                                     "day through a running API (/route, then the "
                                     "outcome) and compare with the offline replay."),
    url: str = typer.Option(None, help="--through-api: the API's base URL."),
    token: str = typer.Option(None, help="--through-api: a bearer token (default: one "
                              "minted with this profile's JWT secret)."),
) -> None:
    """Replay simulated days through every routing policy and compare them."""
    from pipelines.router.pipeline import RouterParams, evaluate

    if through_api:
        from cli.router_api_cmds import evaluate_through_api

        if world != "default" or config is not None:
            raise typer.BadParameter("--through-api replays the default world, the one "
                                     "the server's router is configured with",
                                     param_hint="--world")
        evaluate_through_api(url, token, customers, seed, json_out)
        return
    from models.router.config import world_path

    params = RouterParams(days=days, customers=customers, terminals=customers, seed=seed,
                          config=config or world_path(world), workers=workers,
                          registered=_registered_folder(registered))
    out = out or get_settings().path("router")
    t0 = time.perf_counter()
    with spinner(f"Replaying {days} days through {len(POLICY_ORDER)} policies"):
        result = evaluate(params, out)
    report, info = result["report"], result["info"]
    info["seconds"] = round(time.perf_counter() - t0, 1)
    _print_table(report, info)
    (out / "report.json").write_text(json.dumps({**report, "info": info}, indent=2))
    if json_out:
        print(json.dumps(report))


def _registered_folder(version: str | None) -> Path | None:
    """The artifacts folder of a registered router version or alias (None: none asked)."""
    if version is None:
        return None
    from models.router.registry import RouterRegistry
    from smartpay.errors import InputError

    reg = RouterRegistry.from_settings(get_settings())
    resolved = version if version.isdigit() else reg.version_for_alias(version)
    if resolved is None:
        raise InputError("registered", version, "a gateway-router version or a set alias")
    return reg.model_folder(resolved) / "artifacts" / "router"


def _print_table(report: dict, info: dict) -> None:
    pol = report["policies"]
    base = pol.get("static_rule", {}).get("auth_rate")
    console.print(f"{report['payments']:,} payments, {info['days']} days, "
                  f"{info['outage_windows']} outage windows, {info['seconds']} s")
    console.print(f"{'policy':<18}{'auth rate':>10}{'vs static':>11}{'fee/ok USD':>13}"
                  f"{'latency ms':>12}{'regret':>10}")
    for name, m in pol.items():
        lift = f"{(m['auth_rate'] - base) * 100:+.2f} pp" if base is not None else ""
        console.print(f"{name:<18}{m['auth_rate']:>10.4f}{lift:>11}{m['fee_per_success']:>13.4f}"
                      f"{m['mean_latency_ms']:>12.1f}{m['regret']:>10.1f}")
    console.print(f"oracle auth rate {info['oracle_auth_rate']:.4f}; best fixed gateway per "
                  f"segment in hindsight {info['best_fixed_per_segment_auth_rate']:.4f}")
    if "ope_vw_detail" in info:
        o = info["ope_vw_detail"]
        console.print(f"OPE of VW trained offline on random logs (n={o['n']:,} held out): "
                      f"DR {o['dr']:.4f} [{o['dr_ci'][0]:.4f}, {o['dr_ci'][1]:.4f}], "
                      f"IPS {o['ips']:.4f}, SNIPS {o['snips']:.4f}, truth {o['truth']:.4f}")
    console.print(f"regret plot: {info['plot']}")


def train_router(
    logs: Path = typer.Option(None, help="Logged decisions parquet (default: <data>/router/"
                              "decisions_random.parquet if `evaluate router` wrote it, else simulate)."),
    days: int = typer.Option(14, help="Days to simulate when no logs are given."),
    customers: int = typer.Option(10_000, help="Simulated customers when no logs are given."),
    seed: int = typer.Option(1, help="Random seed."),
    world: str = typer.Option("default", "--world", help="Committed gateway world: default or "
                              "regional (ignored when --config is given)."),
    config: Path = typer.Option(None, "--config", help="Gateway world / router YAML."),
    cb_type: str = typer.Option(None, help="ips, dr or mtr (default: from config)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON on the last line."),
) -> None:
    """Learn the VW router from logged decisions, register it, apply the promotion gate."""
    from pipelines.router.pipeline import TrainParams, train

    default_logs = get_settings().path("router", "decisions_random.parquet")
    logs = logs or (default_logs if default_logs.exists() else None)
    from models.router.config import world_path

    params = TrainParams(logs=logs, days=days, customers=customers, seed=seed,
                         config=config or world_path(world), cb_type=cb_type)
    t0 = time.perf_counter()
    with spinner("Training the VW router from logged decisions"):
        result = train(params, get_settings())
    result["seconds"] = round(time.perf_counter() - t0, 1)
    ch = result["challenger"]
    console.print(f"gateway-router v{result['version']}: DR auth {ch['dr']:.4f} "
                  f"[{ch['dr_ci'][0]:.4f}, {ch['dr_ci'][1]:.4f}] on {ch['n']:,} held-out decisions; "
                  f"champion {result['champion_value']}; promoted={result['promoted']}")
    console.print("baselines (DR on the same held-out decisions): " + ", ".join(
        f"{name} {est['dr']:.4f}" for name, est in result["baselines"].items()))
    if json_out:
        print(json.dumps(result))


def promote_router(
    to: str = typer.Option(..., "--to", help="Environment to promote to (staging, prod)."),
    approved_by: str = typer.Option(None, help="Who approves (required --to prod)."),
    reason: str = typer.Option(None, help="Why it is approved (required --to prod)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Move the gateway-router version an environment takes (staging, prod) by alias;
    `smartpay train router` runs the gate that makes a champion."""
    from models.router.registry import RouterRegistry

    promote_cmds.promote_between_envs(RouterRegistry.from_settings(get_settings()), to,
                                      approved_by, reason, json_out)


evaluate_cmds.app.command("router")(evaluate_router)
promote_cmds.app.command("router")(promote_router)
train_cmds.app.command("router")(train_router)
