"""A simulated day through a running `bentoml serve`, with and without a restart of the
server in the middle (`smartpay evaluate router --through-api`, issue #16):

1. starts the stand-ins and a server with a fresh router (an empty MLflow store of its
   own), event time on (`SMARTPAY_SERVING__ROUTER_EVENT_TIME`), and drives one
   simulated day through /route + /route/{id}/outcome; compares it with the offline
   replay of the same fresh VW policy on the same eligible sets and outcome draws;
2. does the same on a second fresh store, stopping the server at `--restart-at` of the
   day (it checkpoints at shutdown) and starting it again on the same port.

The restart's cost is the second run's auth rate minus the first's (the target is a
loss under 0.2 pp); each run's offline replay is printed beside it for scale.

    .venv/bin/python -m benchmarks.router_api [--customers 10000] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--restart-at", type=float, default=0.5)
    ap.add_argument("--keep", type=Path, default=None,
                    help="folder to keep each day's served decisions in (pickled)")
    args = ap.parse_args()

    from cli.router_api_cmds import local_token, print_report, through_api_day
    from harness.standins import running_standins
    from serving.launcher import _free_port, start_service, stop_service

    root = Path(tempfile.mkdtemp(prefix="router-api-"))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base = {"SMARTPAY_SERVING__ROUTER_EVENT_TIME": "true", "PYTHONPATH": repo,
            # /route needs no fraud model; the empty store has none, so the tiny one
            "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:tiny_fraud",
            "SMARTPAY_SERVING__RATE_LIMIT_PER_S": "100000",
            "SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S": "100000"}
    reports = {}
    with running_standins(root / "standins") as standins:
        for name, restart_at in (("uninterrupted", None), ("restarted", args.restart_at)):
            env = {**standins, **base,
                   "SMARTPAY_MLFLOW_TRACKING_URI": f"sqlite:///{root / name}.db"}
            port, log = _free_port(), root / f"{name}.out"
            state = {"proc": start_service(port, env, log)[0]}

            async def restart() -> None:
                await asyncio.to_thread(stop_service, state["proc"])
                state["proc"] = (await asyncio.to_thread(start_service, port, env, log))[0]

            try:
                reports[name] = through_api_day(f"http://127.0.0.1:{port}", local_token(),
                                                args.customers, args.seed, restart_at,
                                                restart if restart_at else None,
                                                keep=None if args.keep is None else
                                                args.keep / f"{name}-seed{args.seed}.pkl")
            finally:
                stop_service(state["proc"])
            print(f"-- {name}")
            print_report(reports[name])
    a, b = reports["uninterrupted"], reports["restarted"]
    cost = (a["served_auth_rate"] - b["served_auth_rate"]) * 100
    print(f"restart at {args.restart_at:.0%} of the day: auth rate "
          f"{b['served_auth_rate']:.4f} vs {a['served_auth_rate']:.4f} uninterrupted: "
          f"cost {cost:+.3f} pp (target < 0.2 pp); expected-rate cost "
          f"{(a['served_expected_auth_rate'] - b['served_expected_auth_rate']) * 100:+.3f} pp")
    print(json.dumps({"uninterrupted": a, "restarted": b, "restart_cost_pp": round(cost, 3)}))


if __name__ == "__main__":
    main()
