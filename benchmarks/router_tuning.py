"""Router tuning: replay VW variants and the baselines on tuning seeds, one world at a
time, and print auth rate and regret per variant (mean over seeds).

The contexts, world and outcome draws are built once per seed and shared by every
variant (common random numbers), so variants differ only by their choices. Tune on
seeds that are not the reported ones (101, 102), then report with `smartpay evaluate
router` on seeds 1-3.

Run: .venv/bin/python -m benchmarks.router_tuning --world regional --days 10 \
       --seeds 101 102 --vw "-q gs -q gx -l 0.1 --power_t 0.5"
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from models.router.config import world_path
from pipelines.router import nodes
from pipelines.router.pipeline import RouterParams, build


def _variant(cfg, vw_args: str | None, exploration: str | None):
    """The config with other VW arguments / exploration ("squarecb:300", "epsilon:0.02")."""
    router = cfg.router
    if vw_args is not None:
        router = router.model_copy(update={"vw_args": vw_args})
    if exploration:
        algo, _, value = exploration.partition(":")
        knob = {"squarecb": "gamma_scale", "epsilon": "epsilon", "softmax": "lambda_"}[algo]
        router = router.model_copy(update={"exploration": router.exploration.model_copy(
            update={"algorithm": algo, knob: float(value)})})
    return cfg.model_copy(update={"router": router})


def run_seed(world: str, seed: int, days: int, variants: list[tuple[str | None, str | None]],
             baselines: bool) -> dict[str, tuple[float, float]]:
    """Auth rate and regret per policy / VW variant on one seed."""
    rp = build(RouterParams(days=days, seed=seed, config=world_path(world)))
    out = {"oracle": (float(nodes.oracle_success(rp.world).mean()), 0.0),
           "best_fixed_per_segment": (nodes.best_fixed_per_segment(rp.ctx, rp.world), 0.0)}
    names = ["static_rule", "sliding_window_sr", "thompson"] if baselines else []
    jobs = [(n, rp.cfg, n) for n in names]
    jobs += [("vw", _variant(rp.cfg, a, e), f"vw[{a or '-'}|{e or '-'}]") for a, e in variants]
    for name, cfg, label in jobs:
        t0 = time.perf_counter()
        m = nodes.policy_metrics(nodes.run_policy(name, rp.ctx, rp.world, cfg, rp.draws, 7), rp.world)
        out[label] = (m["auth_rate"], m["regret"] / len(rp.ctx))
        print(f"  seed {seed} {label:<60} auth {m['auth_rate']:.4f} regret/pay "
              f"{out[label][1]:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", default="default")
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    ap.add_argument("--vw", nargs="*", default=[], help="VW argument strings to try")
    ap.add_argument("--explore", nargs="*", default=[None], help="e.g. squarecb:300 epsilon:0.02")
    ap.add_argument("--no-baselines", action="store_true")
    a = ap.parse_args()
    variants = [(v, e) for v in (a.vw or [None]) for e in a.explore]
    per_seed = [run_seed(a.world, s, a.days, variants, not a.no_baselines) for s in a.seeds]
    print(f"\n{a.world} world, {a.days} days, seeds {a.seeds}")
    print(f"{'policy':<64}{'auth rate':>10}{'regret/pay':>12}")
    for label in per_seed[0]:
        auth = np.mean([r[label][0] for r in per_seed])
        reg = np.mean([r[label][1] for r in per_seed])
        print(f"{label:<64}{auth:>10.4f}{reg:>12.4f}")


if __name__ == "__main__":
    main()
