"""`smartpay evaluate router --through-api`: one simulated day through a running API.

The server must serve a fresh VW router (no `gateway-router` champion in its registry)
and run with `SMARTPAY_SERVING__ROUTER_EVENT_TIME=true` so its router's clock follows
the simulated day; `benchmarks/router_api.py` starts such a server itself and also
measures what a restart in the middle of the day costs.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from pathlib import Path

import typer

from cli._ui import console
from smartpay.settings import get_settings


def evaluate_through_api(url: str | None, token: str | None, customers: int, seed: int,
                         json_out: bool) -> None:
    if not url:
        raise typer.BadParameter("--through-api needs the running API's base URL",
                                 param_hint="--url")
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    report = through_api_day(url, token or local_token(), customers, seed)
    print_report(report)
    if json_out:
        print(json.dumps(report))


def local_token() -> str:
    from serving.security import issue_token

    settings = get_settings()
    return issue_token(settings.jwt_secret.get_secret_value(), "router-eval",
                       ["payments:write", "payments:read"], 7200)


def through_api_day(url: str, token: str, customers: int, seed: int,
                    restart_at: float | None = None, restart=None,
                    keep: Path | None = None) -> dict:
    """Drive one simulated day through the API at `url`; the report of `compare`
    (or the served figures only when the server does not serve a fresh policy).
    With `keep`, the served decisions (`ApiRun`) are pickled there, so OPE can be
    computed again on the same log (the day's world follows from the seed)."""
    import httpx

    from pipelines.router import through_api
    from pipelines.router.pipeline import RouterParams, build

    rp = build(RouterParams(days=1, customers=customers, terminals=customers, seed=seed))
    rp.ctx, rp.world, rp.draws, left_out = through_api.payable(rp.ctx, rp.world, rp.draws)

    async def go():
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await through_api.drive(client, {"Authorization": f"Bearer {token}"},
                                           rp.ctx, rp.world, rp.cfg, rp.draws,
                                           restart_at, restart)

    t0 = time.perf_counter()
    run = asyncio.run(go())
    seconds = round(time.perf_counter() - t0, 1)
    if keep is not None:
        keep.write_bytes(pickle.dumps(run))
    if run.versions != {"fresh-vw"}:
        return {"payments": len(rp.ctx), "seconds": seconds, "left_out": left_out,
                "served_auth_rate": round(float(run.decisions.success.mean()), 5),
                "versions": sorted(run.versions), "learned": run.learned,
                "compared": False, "why": "the server does not serve a fresh VW policy "
                "(the offline replay starts fresh), so no like-for-like comparison"}
    ope = through_api.served_ope(through_api.served_log(run, rp.ctx, rp.world, rp.cfg),
                                 rp.cfg, seed)
    return {**through_api.compare(run, rp.ctx, rp.world, rp.cfg, rp.draws),
            "seconds": seconds, "compared": True, "ope": ope, "left_out": left_out}


def print_report(r: dict) -> None:
    console.print(f"{r['payments']:,} payments through the API in {r['seconds']} s "
                  f"({r['left_out']} of 0 minor units left out); "
                  f"{r['learned']:,} outcomes learned")
    if not r["compared"]:
        console.print(f"served auth rate {r['served_auth_rate']:.4f}; {r['why']}")
        return
    console.print(f"served auth rate {r['served_auth_rate']:.4f} (expected "
                  f"{r['served_expected_auth_rate']:.4f}); offline replay of the same policy "
                  f"{r['offline_auth_rate']:.4f} (expected {r['offline_expected_auth_rate']:.4f})")
    console.print(f"served - offline {r['difference_pp']:+.2f} pp (se {r['difference_se_pp']:.2f}"
                  f" pp); static rule {r['static_rule_auth_rate']:.4f}, oracle "
                  f"{r['oracle_auth_rate']:.4f} on the same eligible sets")
    o = r["ope"]
    cap = next(iter(o["policies"].values()))["max_weight"]
    console.print(f"OPE on the newest {o['held_out']:,} served decisions (DR / DR with "
                  f"weights clipped at {cap:g} vs truth): " +
                  ", ".join(f"{name} {e['dr']:.4f} / {e['dr_clipped']:.4f} vs "
                            f"{e['truth']:.4f} ({o['dr_error_pp'][name]:.2f} / "
                            f"{o['dr_clipped_error_pp'][name]:.2f} pp)"
                            for name, e in o["policies"].items()))
