"""Wires the router nodes: `evaluate` replays simulated days through every policy;
`train` learns a VW router from logged decisions and registers it behind the gate.

Edges live here: simulation input, parquet logs, the regret plot, MLflow.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from models.router.config import WorldConfig, load_config
from models.router.replay import common_randoms
from models.router.world import World, build_world
from pipelines.io import read_table, write_parquet_atomic
from pipelines.router import nodes
from pipelines.simulate.pipeline import SimulationParams, simulate
from smartpay.errors import InputError


@dataclass(frozen=True)
class RouterParams:
    """Options of `smartpay evaluate router` / `smartpay train router`."""

    days: int = 30
    customers: int = 10_000
    terminals: int = 10_000
    seed: int = 1
    config: Path | None = None
    workers: int = 2
    train_share: float = 2 / 3
    policies: tuple[str, ...] = field(default=nodes.POLICIES)
    registered: Path | None = None  # artifacts of a registered router, replayed as well

    def __post_init__(self) -> None:
        for name in ("days", "customers", "terminals", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise InputError(name, value, "a positive integer")
        if not 0.1 <= self.train_share <= 0.9:
            raise InputError("train_share", self.train_share, "a share between 0.1 and 0.9")
        unknown = set(self.policies) - set(nodes.POLICIES)
        if unknown:
            raise InputError("policies", sorted(unknown), "names among " + ", ".join(nodes.POLICIES))


@dataclass
class Replay:
    """Everything one simulated replay needs, built once."""

    cfg: WorldConfig
    ctx: pd.DataFrame
    world: World
    draws: tuple[np.ndarray, np.ndarray]


def build(params: RouterParams) -> Replay:
    """Simulate transactions and the gateway world over them."""
    cfg = load_config(params.config)
    tx = simulate(SimulationParams(params.customers, params.terminals, params.days, seed=params.seed))
    ctx = nodes.contexts(tx, cfg, params.seed)
    world = build_world(ctx, cfg, np.random.default_rng(cfg.seed + params.seed))
    return Replay(cfg, ctx, world, common_randoms(len(ctx), len(cfg.gateways), params.seed + 1))


_SHARED: Replay | None = None  # read by forked workers (copy-on-write, nothing pickled)


def _run(name: str):
    return nodes.run_policy(name, _SHARED.ctx, _SHARED.world, _SHARED.cfg, _SHARED.draws, seed=7)


def run_all(rp: Replay, policies: tuple[str, ...], workers: int) -> dict:
    """Replay every policy, in parallel worker processes when workers > 1."""
    global _SHARED
    _SHARED = rp
    order = sorted(policies, key=lambda n: n != "vw")  # the slowest first
    try:
        if workers == 1:
            results = [_run(n) for n in order]
        else:
            with mp.get_context("fork").Pool(min(workers, len(order))) as pool:
                results = pool.map(_run, order, chunksize=1)
    finally:
        _SHARED = None
    by_name = dict(zip(order, results))
    return {n: by_name[n] for n in policies}


def registered_policy(folder: Path, cfg: WorldConfig):
    """The registered router in `folder` as serving loads it (`RouterPolicy`), checked
    to route the same gateways as the world it is replayed on."""
    from models.router.pyfunc import policy_from_artifacts

    policy = policy_from_artifacts(folder)
    if policy.names != cfg.gateway_names:
        raise InputError("registered", str(folder),
                         f"a router for the gateways {cfg.gateway_names}, not {policy.names}")
    return policy


def ope_of_learned_policy(random_log: pd.DataFrame, rp: Replay, share: float) -> tuple[dict, object]:
    """Train VW offline on the earlier random-logged days; DR on the later ones vs truth."""
    train, evaluation = nodes.split_by_time(random_log, share)
    router = nodes.train_offline(train, rp.cfg)
    pmf = nodes.target_pmf(router, evaluation, rp.cfg)
    q_hat = nodes.fit_reward_model(train, len(rp.cfg.gateways)).predict(evaluation)
    p_true = rp.world.p_success[len(train):]
    return nodes.ope_estimates(evaluation, pmf, q_hat, p_true), router


def evaluate(params: RouterParams, out_dir: Path) -> dict:
    """Replay, compare, estimate; writes logs, gateway stats and the regret plot."""
    rp = build(params)
    registered = registered_policy(params.registered, rp.cfg) if params.registered else None
    decisions = run_all(rp, params.policies, params.workers)
    if registered is not None:  # replayed on its own, learning online as serving runs it
        decisions["registered"] = nodes.run_router("registered", registered.router, rp.ctx,
                                                   rp.world, rp.cfg, rp.draws)
    report = {"payments": len(rp.ctx),
              "policies": {n: nodes.policy_metrics(d, rp.world) for n, d in decisions.items()},
              "ope": {}}
    info = {"oracle_auth_rate": round(float(nodes.oracle_success(rp.world).mean()), 5),
            "best_fixed_per_segment_auth_rate": round(nodes.best_fixed_per_segment(rp.ctx, rp.world), 5),
            "outage_windows": len(rp.cfg.outages), "days": params.days}
    if "random" in decisions:
        log = nodes.decision_log(rp.ctx, decisions["random"], rp.world, rp.cfg)
        ope, _ = ope_of_learned_policy(log, rp, params.train_share)
        report["ope"]["vw"] = {k: ope[k] for k in ("dr", "dr_ci", "truth")}
        info["ope_vw_detail"] = ope
        write_parquet_atomic(_with_truth(log, rp), out_dir / "decisions_random.parquet")
    if "vw" in decisions:
        vw_log = nodes.decision_log(rp.ctx, decisions["vw"], rp.world, rp.cfg)
        write_parquet_atomic(vw_log.drop(columns=["shared"]), out_dir / "decisions_vw.parquet")
        info["gateway_stats_rows"] = write_gateway_stats(vw_log)
    info["plot"] = str(plot_regret(nodes.regret_curves(decisions, rp.world), out_dir / "regret.png",
                                   rp.ctx["timestamp"], rp.cfg.outages))
    return {"report": report, "info": info}


def _with_truth(log: pd.DataFrame, rp: Replay) -> pd.DataFrame:
    """Simulated logs also keep each gateway's true success probability (for OPE checks)."""
    out = log.copy()
    for k, g in enumerate(rp.cfg.gateway_names):
        out[f"p_true__{g}"] = rp.world.p_success[:, k]
    return out


def write_gateway_stats(log: pd.DataFrame) -> int:
    """Write the Feast source of the `gateway_stats` view (and load it into the online
    store when the feature repository has been applied); returns its row count."""
    from features.sources_gateway import GATEWAY_STATS_TABLE
    from features.store import tables_dir
    from smartpay.settings import get_settings

    table = nodes.gateway_stats_table(log)
    write_parquet_atomic(table, tables_dir(get_settings()) / GATEWAY_STATS_TABLE)
    _materialize_gateway_stats(table)
    return len(table)


def _materialize_gateway_stats(table: pd.DataFrame) -> bool:
    """Materialize `gateway_stats` if `smartpay features apply` registered it."""
    from features.store import open_store, store_dir
    from smartpay.settings import get_settings

    if not (store_dir(get_settings()) / "registry.db").exists():
        return False
    store = open_store()
    if "gateway_stats" not in {v.name for v in store.list_feature_views()}:
        return False
    lo, hi = table["event_timestamp"].min(), table["event_timestamp"].max()
    store.materialize(start_date=lo.to_pydatetime(), end_date=(hi + pd.Timedelta(minutes=1)).to_pydatetime(),
                      feature_views=["gateway_stats"])
    return True


def plot_regret(curves: pd.DataFrame, path: Path, timestamps: pd.Series | None = None,
                outages: list | None = None) -> Path:
    """Cumulative regret vs the oracle per policy, as a PNG (outage windows shaded)."""
    from models.router import plots

    windows = plots.outage_windows(timestamps, outages) if outages else []
    path.parent.mkdir(parents=True, exist_ok=True)
    plots.regret(curves, windows).savefig(path, dpi=110)
    return path


def read_logs(path: Path) -> pd.DataFrame:
    """Logged decisions written by `evaluate` (or any log of the same columns)."""
    return read_table(path)


@dataclass(frozen=True)
class TrainParams:
    """Options of `smartpay train router`."""

    logs: Path | None = None
    days: int = 14
    customers: int = 10_000
    seed: int = 1
    config: Path | None = None
    cb_type: str | None = None
    train_share: float = 2 / 3

    def __post_init__(self) -> None:
        if self.cb_type not in (None, "ips", "dr", "mtr"):
            raise InputError("cb_type", self.cb_type, "ips, dr or mtr")


def training_config(params: TrainParams) -> WorldConfig:
    """The config with the offline VW arguments and the requested cb_type; SquareCB
    needs mtr, so others use epsilon."""
    cfg = load_config(params.config)
    cfg = cfg.model_copy(update={"router": cfg.router.for_offline()})
    if params.cb_type is None or params.cb_type == cfg.router.cb_type:
        return cfg
    router = cfg.router.model_copy(update={"cb_type": params.cb_type})
    if params.cb_type != "mtr" and router.exploration.algorithm == "squarecb":
        router = router.model_copy(update={"exploration": router.exploration.model_copy(
            update={"algorithm": "epsilon"})})
    return cfg.model_copy(update={"router": router})


def logged_decisions(params: TrainParams, cfg: WorldConfig) -> pd.DataFrame:
    """Logs from a file, or a fresh simulation routed by the uniform logging policy."""
    if params.logs is not None:
        return read_logs(params.logs)
    rp = build(RouterParams(days=params.days, customers=params.customers,
                            terminals=params.customers, seed=params.seed, config=params.config))
    rp.cfg = cfg
    dec = nodes.run_policy("random", rp.ctx, rp.world, cfg, rp.draws, seed=7)
    return _with_truth(nodes.decision_log(rp.ctx, dec, rp.world, cfg), rp)


def _truth(evaluation: pd.DataFrame, pmf: np.ndarray, cfg: WorldConfig) -> np.ndarray | None:
    cols = [f"p_true__{g}" for g in cfg.gateway_names]
    return evaluation[cols].to_numpy() if set(cols) <= set(evaluation.columns) else None


def train(params: TrainParams, settings) -> dict:
    """Train on the earlier logs, DR-evaluate challenger, champion and the baseline
    policies on the later ones, register the challenger and promote it only through
    the gate."""
    from models.router import offline, registry

    cfg = training_config(params)
    train_log, evaluation = nodes.split_by_time(logged_decisions(params, cfg), params.train_share)
    router = nodes.train_offline(train_log, cfg)
    q_hat = nodes.fit_reward_model(train_log, len(cfg.gateways)).predict(evaluation)
    pmf = nodes.target_pmf(router, evaluation, cfg)
    challenger = nodes.ope_estimates(evaluation, pmf, q_hat, _truth(evaluation, pmf, cfg))
    champion_value = None
    reg = registry.RouterRegistry.from_settings(settings)
    folder = reg.champion_folder()
    if folder is not None:
        champ = registry.policy_from_artifacts(folder)
        champ_pmf = offline.target_pmf(champ.router, evaluation, champ.names)
        champion_value = nodes.ope_estimates(evaluation, champ_pmf, q_hat)["dr"]
    baselines = {name: nodes.ope_estimates(evaluation, b_pmf, q_hat, _truth(evaluation, b_pmf, cfg))
                 for name, b_pmf in nodes.baseline_pmfs(evaluation, cfg, params.seed).items()}
    dr = challenger
    promoted = registry.gate(_estimate(dr), champion_value,
                             {name: est["dr"] for name, est in baselines.items()})
    version = reg.log_and_register(
        router.model_bytes(), cfg,
        params={"cb_type": cfg.router.cb_type, "exploration": cfg.router.exploration.algorithm,
                "train_rows": len(train_log), "eval_rows": len(evaluation)},
        metrics={"dr": dr["dr"], "dr_lo": dr["dr_ci"][0], "dr_hi": dr["dr_ci"][1],
                 "ips": dr["ips"], "snips": dr["snips"],
                 **{f"baseline_{name}_dr": est["dr"] for name, est in baselines.items()}})
    reg.promote(version, promoted)
    return {"version": version, "challenger": challenger, "champion_value": champion_value,
            "baselines": baselines, "promoted": promoted}


def _estimate(d: dict):
    from models.router.ope import Estimate

    return Estimate(d["dr"], d["dr_ci"][0], d["dr_ci"][1], d["n"])
