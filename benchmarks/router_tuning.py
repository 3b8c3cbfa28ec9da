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


def _variant(cfg, vw_args: str | None, exploration: str | None, floor: float | None = None):
    """The config with other VW arguments / exploration ("squarecb:300", "epsilon:0.02")
    / probability floor."""
    router = cfg.router
    if vw_args is not None and vw_args.startswith("cb_type="):  # "cb_type=dm -q gs ..."
        cb, _, vw_args = vw_args.partition(" ")
        router = router.model_copy(update={"cb_type": cb.removeprefix("cb_type=")})
    if floor is not None:
        router = router.model_copy(update={"exploration": router.exploration.model_copy(
            update={"min_probability": floor})})
    if vw_args is not None:
        router = router.model_copy(update={"vw_args": vw_args})
    if exploration:
        algo, _, value = exploration.partition(":")
        knob = {"squarecb": "gamma_scale", "epsilon": "epsilon", "softmax": "lambda_"}[algo]
        router = router.model_copy(update={"exploration": router.exploration.model_copy(
            update={"algorithm": algo, knob: float(value)})})
    return cfg.model_copy(update={"router": router})


def run_seed(world: str, seed: int, days: int, variants: list[tuple[str | None, str | None]],
             baselines: bool, reward: dict, floor: float | None) -> dict[str, tuple[float, float]]:
    """Auth rate and regret per policy / VW variant on one seed."""
    rp = build(RouterParams(days=days, seed=seed, config=world_path(world)))
    if reward:
        rp.cfg = rp.cfg.model_copy(update={"reward": rp.cfg.reward.model_copy(update=reward)})
    out = {"oracle": (float(nodes.oracle_success(rp.world).mean()), 0.0, float("nan")),
           "best_fixed_per_segment": (nodes.best_fixed_per_segment(rp.ctx, rp.world), 0.0,
                                      float("nan"))}
    names = ["static_rule", "sliding_window_sr", "thompson"] if baselines else []
    jobs = [(n, rp.cfg, n) for n in names]
    jobs += [("vw", _variant(rp.cfg, a, e, floor), f"vw[{a or '-'}|{e or '-'}]") for a, e in variants]
    for name, cfg, label in jobs:
        t0 = time.perf_counter()
        m = nodes.policy_metrics(nodes.run_policy(name, rp.ctx, rp.world, cfg, rp.draws, 7), rp.world)
        out[label] = (m["auth_rate"], m["regret"] / len(rp.ctx), m["fee_per_success"])
        print(f"  seed {seed} {label:<60} auth {m['auth_rate']:.4f} regret/pay "
              f"{out[label][1]:.4f} fee/ok {m['fee_per_success']:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", default="default")
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    ap.add_argument("--vw", nargs="*", default=[], help="VW argument strings to try")
    ap.add_argument("--explore", nargs="*", default=[None], help="e.g. squarecb:300 epsilon:0.02")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--fee-weight", type=float, default=None)
    ap.add_argument("--latency-weight", type=float, default=None)
    ap.add_argument("--floor", type=float, default=None, help="min_probability")
    a = ap.parse_args()
    reward = {k: v for k, v in (("fee_weight", a.fee_weight),
                                ("latency_weight_per_s", a.latency_weight)) if v is not None}
    variants = [(v, e) for v in (a.vw or [None]) for e in a.explore]
    per_seed = [run_seed(a.world, s, a.days, variants, not a.no_baselines, reward, a.floor) for s in a.seeds]
    print(f"\n{a.world} world, {a.days} days, seeds {a.seeds}")
    print(f"{'policy':<64}{'auth rate':>10}{'regret/pay':>12}{'fee/ok':>9}")
    for label in per_seed[0]:
        auth, reg, fee = (np.mean([r[label][j] for r in per_seed]) for j in range(3))
        print(f"{label:<64}{auth:>10.4f}{reg:>12.4f}{fee:>9.4f}")


if __name__ == "__main__":
    main()
