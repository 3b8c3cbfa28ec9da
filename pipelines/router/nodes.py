"""Pure steps of the router pipelines: contexts, replays, metrics, logs, OPE, stats.

No file or network I/O here; `pipeline.py` wires these and owns the edges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.router import offline
from models.router.config import WorldConfig
from models.router.context import derive, shared_features
from models.router.ope import RewardModel, doubly_robust, ips, snips
from models.router.policies import Payment, RandomPolicy, SlidingWindowSR, StaticFeeRule, Thompson
from models.router.replay import Decisions, payments, replay
from models.router.stats import (
    FEATURES, PRIOR_LATENCY_MS, PRIOR_SR, PRIOR_WEIGHT, WINDOWS_MIN, gateway_segment,
)
from models.router.vw_policy import VWRouter
from models.router.world import World

POLICIES = ("static_rule", "random", "sliding_window_sr", "thompson", "vw")
OPE_CATEGORICAL = ["card_network", "issuing_country", "currency", "merchant_category",
                   "channel", "hour_band", "cross_border"]
OPE_NUMERIC = ["risk_score", "log_amount"]
# The reward model's inverse L2 strength: on served logs a gateway the router does not
# favour has a dozen outcomes in a segment, and at c = 1 a few unlucky ones set its
# own country effect 10-35 pp below the truth (kept served days, seeds 1-3); at 0.1 its
# own block stays near the shared effects unless its outcomes insist.
OPE_C = 0.1
# The clipped DR's weight cap (`ope_estimates`): a decision logged with a propensity of
# 0.05 or more keeps its full weight; the served router's 0.2 % floor and 0.5 % probes
# (weights up to 500) are cut to 20, the cap VW's own `--clip_p 0.05` puts on them.
MAX_WEIGHT = 20.0


def add_risk_proxy(tx: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Payment contexts with hour and a fraud risk score.

    Stand-in until the fraud model serves scores: 0.05 + 0.55 * is_fraud + N(0, 0.08),
    clipped to [0, 1] -- a noisy detector that separates most frauds but not all.
    """
    rng = np.random.default_rng(seed)
    out = tx.copy()
    out["hour"] = out["timestamp"].dt.hour
    noise = rng.normal(0.0, 0.08, len(out))
    out["risk_score"] = np.clip(0.05 + 0.55 * out["is_fraud"].to_numpy() + noise, 0.0, 1.0)
    return out


def contexts(tx: pd.DataFrame, cfg: WorldConfig, seed: int) -> pd.DataFrame:
    """Derived routing contexts (segment, amount in USD, ...) with VW shared lines."""
    ctx = derive(add_risk_proxy(tx, seed), cfg)
    ctx["shared"] = shared_features(ctx)
    ctx["log_amount"] = np.log10(np.maximum(ctx["amount_usd"].to_numpy(), 0.5))
    return ctx.reset_index(drop=True)


def make_policy(name: str, cfg: WorldConfig, seed: int):
    """A fresh policy by report name."""
    k, o = len(cfg.gateways), cfg.router
    return {
        "static_rule": StaticFeeRule,
        "random": RandomPolicy,
        "sliding_window_sr": lambda: SlidingWindowSR(k, o.sr_window, o.sr_hedge, o.elimination),
        "thompson": lambda: Thompson(k, o.thompson_discount, np.random.default_rng(seed)),
        "vw": lambda: VWRouter(cfg.gateway_names, o),
    }[name]()


def run_policy(name: str, ctx: pd.DataFrame, world: World, cfg: WorldConfig,
               draws: tuple[np.ndarray, np.ndarray], seed: int) -> Decisions:
    """Replay every payment through one policy (the random one logs features for OPE)."""
    pays = payments(ctx, world, ctx["shared"].to_numpy())
    return replay(make_policy(name, cfg, seed), pays, world, cfg, draws, log_features=name == "random")


def run_router(name: str, router: VWRouter, ctx: pd.DataFrame, world: World,
               cfg: WorldConfig, draws: tuple[np.ndarray, np.ndarray]) -> Decisions:
    """Replay every payment through an already trained VW router, reported as `name`."""
    pays = payments(ctx, world, ctx["shared"].to_numpy())
    dec = replay(router, pays, world, cfg, draws)
    dec.policy = name
    return dec


def expected_success(dec: Decisions, world: World) -> np.ndarray:
    """True success probability of each chosen gateway."""
    return world.p_success[np.arange(len(dec.action)), dec.action]


def oracle_success(world: World) -> np.ndarray:
    """Best true success probability among eligible gateways, per payment."""
    return np.where(world.eligible, world.p_success, -np.inf).max(axis=1)


def policy_metrics(dec: Decisions, world: World) -> dict[str, float]:
    """Auth rate, fee per successful payment (USD), mean latency, cumulative regret."""
    rows = np.arange(len(dec.action))
    fee = world.fee_usd[rows, dec.action]
    wins = dec.success.sum()
    return {
        "auth_rate": round(float(dec.success.mean()), 5),
        "fee_per_success": round(float((fee * dec.success).sum() / max(wins, 1)), 4),
        "mean_latency_ms": round(float(dec.latency_ms.mean()), 1),
        "regret": round(float((oracle_success(world) - expected_success(dec, world)).sum()), 1),
    }


def regret_curves(decisions: dict[str, Decisions], world: World, points: int = 500) -> pd.DataFrame:
    """Cumulative expected regret per policy at `points` evenly spaced payments."""
    best = oracle_success(world)
    at = np.linspace(0, len(best) - 1, points).astype(int)
    return pd.DataFrame({name: np.cumsum(best - expected_success(d, world))[at]
                         for name, d in decisions.items()}, index=at)


def best_fixed_per_segment(ctx: pd.DataFrame, world: World) -> float:
    """Expected auth rate of the best single gateway per segment chosen in hindsight."""
    p = pd.DataFrame(np.where(world.eligible, world.p_success, 0.0))
    p["segment"] = ctx["segment"].to_numpy()
    sums = p.groupby("segment").sum()
    return float(sums.max(axis=1).sum() / len(ctx))


def decision_log(ctx: pd.DataFrame, dec: Decisions, world: World, cfg: WorldConfig) -> pd.DataFrame:
    """One row per decision: context, chosen gateway, propensity, full ranking, outcome,
    and what every gateway looked like then (eligibility, fee, gateway_stats)."""
    names = np.array(cfg.gateway_names)
    rows = np.arange(len(dec.action))
    keep = ["transaction_id", "timestamp", "segment", "card_network", "issuing_country",
            "currency", "amount_minor", "merchant_category", "channel", "hour", "hour_band",
            "cross_border", "risk_score", "log_amount", "shared"]
    log = ctx[keep].copy()
    log["policy"] = dec.policy
    log["action_idx"], log["gateway"] = dec.action.astype(np.int64), names[dec.action]
    log["propensity"], log["success"] = dec.prob.astype(float), dec.success
    log["ranking"] = [">".join(names[r[r >= 0]]) for r in dec.ranking]
    log["latency_ms"], log["reward"] = dec.latency_ms, dec.reward
    log["decline_code"] = np.where(dec.success, "", world.decline_code[rows, dec.action].astype(str))
    fee_frac = world.fee_minor / np.maximum(ctx["amount_minor"].to_numpy(), 1)[:, None]
    for k, g in enumerate(names):
        log[f"elig__{g}"], log[f"fee__{g}"] = world.eligible[:, k], fee_frac[:, k]
        if dec.features is not None:
            for j, f in enumerate(FEATURES):
                log[f"{g}__{f}"] = dec.features[:, k, j]
    return log


def split_by_time(log: pd.DataFrame, train_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier share for training, the rest for evaluation (logs are time-ordered)."""
    cut = int(len(log) * train_share)
    return log.iloc[:cut].reset_index(drop=True), log.iloc[cut:].reset_index(drop=True)


def fit_reward_model(train: pd.DataFrame, k: int) -> RewardModel:
    """The DR estimator's success model, fitted on the training logs only."""
    return RewardModel(k, OPE_CATEGORICAL, OPE_NUMERIC, c=OPE_C).fit(
        train, train["action_idx"].to_numpy(), train["success"].to_numpy(dtype=float))


def ope_estimates(eval_log: pd.DataFrame, pmf: np.ndarray, q_hat: np.ndarray,
                  p_true: np.ndarray | None = None) -> dict:
    """IPS, SNIPS, DR and clipped DR (auth rate) of a target policy, the share of
    decisions whose weight the clip cut, and its simulated truth if known."""
    a = eval_log["action_idx"].to_numpy()
    r, mu = eval_log["success"].to_numpy(dtype=float), eval_log["propensity"].to_numpy()
    target = pmf[np.arange(len(a)), a]
    dr = doubly_robust(r, mu, a, pmf, q_hat)
    clipped = doubly_robust(r, mu, a, pmf, q_hat, MAX_WEIGHT)
    out = {"dr": round(dr.value, 5), "dr_ci": [round(dr.lo, 5), round(dr.hi, 5)],
           "ips": round(ips(r, mu, target).value, 5), "snips": round(snips(r, mu, target).value, 5),
           "dr_clipped": round(clipped.value, 5),
           "dr_clipped_ci": [round(clipped.lo, 5), round(clipped.hi, 5)],
           "max_weight": MAX_WEIGHT,
           "clipped_share": round(float((target / mu > MAX_WEIGHT).mean()), 5), "n": dr.n}
    if p_true is not None:
        out["truth"] = round(float((pmf * p_true).sum(axis=1).mean()), 5)
    return out


BASELINES = ("static_rule", "sliding_window_sr", "thompson")


def baseline_pmfs(log: pd.DataFrame, cfg: WorldConfig, seed: int,
                  start: int = 0) -> dict[str, np.ndarray]:
    """(n - start) x K probabilities each baseline policy gives the logged payments
    from row `start` on. Each runs through the whole log in time order and is taught
    every logged outcome (the traffic the logging policy routed), the way the VW target
    reads the logged gateway statistics: all are judged on what the same traffic told
    them. With `start` the rows before it only warm the baselines up, as the earlier
    part of a log trains the VW challenger judged on the rest."""
    names = cfg.gateway_names
    elig, fee = offline.eligible_matrix(log, names), offline.fee_matrix(log, names)
    ts = pd.to_datetime(log["timestamp"], utc=True)
    minute = ((ts - ts.min().normalize()).dt.total_seconds() // 60).astype(int).tolist()
    seg, shared = log["segment"].astype(str).tolist(), log["shared"].tolist()
    action, success = log["action_idx"].to_numpy(), log["success"].to_numpy(dtype=bool)
    latency, reward = log["latency_ms"].to_numpy(float), log["reward"].to_numpy(float)
    out = {}
    for name in BASELINES:
        policy, pmf = make_policy(name, cfg, seed), np.zeros((len(log), len(names)))
        for i in range(len(log)):
            p = Payment(minute[i], seg[i], elig[i], fee[i], shared[i])
            pmf[i] = policy.pmf(p)
            policy.update(p, int(action[i]), bool(success[i]), latency[i], reward[i])
        out[name] = pmf[start:]
    return out


def train_offline(train: pd.DataFrame, cfg: WorldConfig, passes: int = 1) -> VWRouter:
    """VW router learnt from logged decisions (cb_type, exploration and the offline VW
    arguments from config)."""
    return offline.train(train, cfg.gateway_names, cfg.router.for_offline(), passes)


def gateway_stats_table(log: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """Feast source of `gateway_stats`: at each minute with outcomes in a segment, every
    gateway's (`names`; default: the log's) success rates over the trailing 15 min /
    1 h / 24 h, attempts and mean latency over 1 h, as of the end of that minute: the
    rows the served router pushes after outcomes in the segment (`WindowStats.rows`)."""
    names = list(names) if names is not None else _gateways_of(log)
    df = log.assign(minute=log["timestamp"].dt.floor("min"), n=1.0,
                    s=log["success"].astype(float), lat=log["latency_ms"].astype(float))
    wide = (df.groupby(["segment", "minute", "gateway"], sort=True)[["n", "s", "lat"]].sum()
            .unstack("gateway", fill_value=0.0)
            .reindex(columns=pd.MultiIndex.from_product([["n", "s", "lat"], names]),
                     fill_value=0.0))
    sums = {m: _trailing_sums(wide, m) for m in WINDOWS_MIN}
    return pd.concat([_gateway_rows(wide.index, sums, names, k) for k in range(len(names))],
                     ignore_index=True)


def _trailing_sums(wide: pd.DataFrame, minutes: int) -> np.ndarray:
    """Per (segment, minute) row of `wide` (sorted), its column sums over the segment's
    rows of the trailing `minutes` minutes (that minute included): prefix sums, and for
    each row the first row of the same segment inside the window."""
    seg = wide.index.codes[0].astype(np.int64)
    minute = pd.DatetimeIndex(wide.index.get_level_values(1)).as_unit("s").asi8 // 60
    key = seg * 10**9 + (minute - minute.min() + 2 * WINDOWS_MIN[-1])
    first = np.searchsorted(key, key - minutes + 1, side="left")
    cum = np.vstack([np.zeros(wide.shape[1]), np.cumsum(wide.to_numpy(), axis=0)])
    return cum[1:] - cum[first]


def _gateways_of(log: pd.DataFrame) -> list[str]:
    """Gateways a decision log covers: its `elig__<gateway>` columns, else those chosen."""
    named = [c.removeprefix("elig__") for c in log.columns if c.startswith("elig__")]
    return named or sorted(log["gateway"].unique())


def _gateway_rows(index: pd.MultiIndex, sums: dict[int, np.ndarray], names: list[str],
                  k: int) -> pd.DataFrame:
    """Gateway k's `gateway_stats` rows from the trailing window sums (columns: n, s,
    lat for each gateway in `names` order)."""
    kk = len(names)
    out = pd.DataFrame({"gateway": names[k], "segment": index.get_level_values(0),
                        "event_timestamp": index.get_level_values(1)})
    for name, minutes in zip(("15m", "1h", "24h"), WINDOWS_MIN):
        n, s = sums[minutes][:, k], sums[minutes][:, kk + k]
        out[f"sr_{name}"] = (s + PRIOR_WEIGHT * PRIOR_SR) / (n + PRIOR_WEIGHT)
        if name == "1h":
            out["attempts_1h"] = np.rint(n).astype(np.int64)
            lat = sums[minutes][:, 2 * kk + k]
            out["latency_1h_s"] = (lat + PRIOR_LATENCY_MS) / (n + 1) / 1000
    out["gateway_segment"] = [gateway_segment(names[k], seg) for seg in out["segment"]]
    return out


def target_pmf(router: VWRouter, log: pd.DataFrame, cfg: WorldConfig) -> np.ndarray:
    """A trained router's probabilities for logged contexts (n x K)."""
    return offline.target_pmf(router, log, cfg.gateway_names)
