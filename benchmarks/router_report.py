"""Router report: `smartpay evaluate router` (the same pipeline function) over several
seeds and both committed worlds, printed as a markdown table of mean +- sd per policy:
auth rate, fee per successful payment, regret; the OPE error of the offline-trained VW;
and, optionally, a fee-weight sweep of VW (auth rate vs fee per success, for the
Pareto front against the baselines, which ignore fees).

Run: .venv/bin/python -m benchmarks.router_report --days 30 --seeds 1 2 3 \
       [--registered default=/path/to/artifacts regional=/path] [--fee-weights 0 0.3 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from models.router.config import WORLDS, world_path
from pipelines.router import nodes
from pipelines.router.pipeline import RouterParams, build, evaluate


def evaluate_runs(world: str, seeds: list[int], days: int, registered: Path | None) -> list[dict]:
    """One `evaluate` report per seed (workers=1: the box is shared)."""
    out = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            res = evaluate(RouterParams(days=days, seed=seed, config=world_path(world),
                                        workers=1, registered=registered), Path(tmp))
        rep = res["report"] | {"oracle": res["info"]["oracle_auth_rate"],
                               "best_fixed": res["info"]["best_fixed_per_segment_auth_rate"]}
        print(json.dumps({"world": world, "seed": seed, **rep}), flush=True)
        out.append(rep)
    return out


def fee_sweep(world: str, seed: int, days: int, weights: list[float]) -> dict[float, dict]:
    """VW replayed with each fee weight in its reward (same payments and outcome draws)."""
    rp = build(RouterParams(days=days, seed=seed, config=world_path(world)))
    out = {}
    for w in weights:
        cfg = rp.cfg.model_copy(update={"reward": rp.cfg.reward.model_copy(update={"fee_weight": w})})
        out[w] = nodes.policy_metrics(nodes.run_policy("vw", rp.ctx, rp.world, cfg, rp.draws, 7),
                                      rp.world)
        print(json.dumps({"world": world, "seed": seed, "fee_weight": w, **out[w]}), flush=True)
    return out


def _ms(values: list[float], scale: float = 1.0, digits: int = 4) -> str:
    v = np.asarray(values, float) * scale
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}"


def table(runs: dict[str, list[dict]]) -> str:
    """Markdown: one row per policy, per world auth rate, fee per success, regret/payment."""
    head = "| policy | " + " | ".join(f"{w}: auth rate | {w}: fee/ok USD | {w}: regret/payment"
                                         for w in runs) + " |"
    lines = [head, "|---" * (1 + 3 * len(runs)) + "|"]
    policies = list(next(iter(runs.values()))[0]["policies"])
    for name in policies:
        cells = []
        for reps in runs.values():
            pol = [r["policies"][name] for r in reps]
            cells += [_ms([p["auth_rate"] for p in pol]), _ms([p["fee_per_success"] for p in pol], digits=3),
                      _ms([p["regret"] / r["payments"] for p, r in zip(pol, reps)])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for key in ("oracle", "best_fixed"):
        cells = []
        for reps in runs.values():
            cells += [_ms([r[key] for r in reps]), "", ""]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checks(runs: dict[str, list[dict]]) -> list[str]:
    """The acceptance figures: lifts over baselines, regret ratio, OPE error (pp)."""
    out = []
    for world, reps in runs.items():
        auth = {n: np.mean([r["policies"][n]["auth_rate"] for r in reps]) for n in reps[0]["policies"]}
        reg = {n: np.mean([r["policies"][n]["regret"] for r in reps]) for n in reps[0]["policies"]}
        best = max(("sliding_window_sr", "thompson"), key=auth.get)
        ope = [abs(r["ope"]["vw"]["dr"] - r["ope"]["vw"]["truth"]) * 100 for r in reps]
        out.append(f"{world}: vw - {best} = {(auth['vw'] - auth[best]) * 100:+.2f} pp, "
                   f"vw - static_rule = {(auth['vw'] - auth['static_rule']) * 100:+.2f} pp, "
                   f"vw regret / {best} regret = {reg['vw'] / reg[best]:.2f}, "
                   f"OPE |DR - truth| max {max(ope):.2f} pp")
        if "registered" in auth:
            out.append(f"{world}: registered - static_rule = "
                       f"{(auth['registered'] - auth['static_rule']) * 100:+.2f} pp, registered - "
                       f"sliding_window_sr = {(auth['registered'] - auth['sliding_window_sr']) * 100:+.2f} pp")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--worlds", nargs="+", default=list(WORLDS))
    ap.add_argument("--registered", nargs="*", default=[], help="world=artifacts-folder")
    ap.add_argument("--fee-weights", type=float, nargs="*", default=[])
    a = ap.parse_args()
    reg = dict(item.split("=", 1) for item in a.registered)
    runs = {w: evaluate_runs(w, a.seeds, a.days, Path(reg[w]) if w in reg else None)
            for w in a.worlds}
    print(f"\n{a.days} days, seeds {a.seeds}, mean ± sd\n")
    print(table(runs))
    print("\n" + "\n".join(checks(runs)), flush=True)
    for w in a.worlds if a.fee_weights else []:
        print(f"\n{w}, seed {a.seeds[0]}: VW by fee weight")
        for fw, m in fee_sweep(w, a.seeds[0], a.days, a.fee_weights).items():
            print(f"  fee_weight {fw:<5} auth {m['auth_rate']:.4f} fee/ok {m['fee_per_success']:.4f}")


if __name__ == "__main__":
    main()
