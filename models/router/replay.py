"""Replay payments through one policy in time order against the simulated world.

Outcomes use common random numbers: payment i routed to gateway k succeeds iff
u[i, k] < p_success[i, k], whichever policy routed it, so policies differ only by
their choices. Each decision records its propensity and the full ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.router.config import WorldConfig
from models.router.policies import Payment
from models.router.stats import FEATURES, WindowStats
from models.router.vw_policy import reward_of
from models.router.world import World


@dataclass
class Decisions:
    """One policy's decisions over a replay (arrays of length n)."""

    policy: str
    action: np.ndarray
    prob: np.ndarray
    ranking: np.ndarray  # n x K gateway indices by preference, -1 for ineligible
    success: np.ndarray
    latency_ms: np.ndarray
    reward: np.ndarray
    features: np.ndarray | None = None  # n x K x 4 gateway_stats seen at decision time


def common_randoms(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-payment x gateway success draws and per-payment action draws."""
    rng = np.random.default_rng(seed)
    return rng.random((n, k)), rng.random(n)


def payments(ctx: pd.DataFrame, world: World, shared: np.ndarray | None = None) -> list[Payment]:
    """The per-payment inputs a policy sees, built once per replay."""
    minutes = ((ctx["timestamp"] - ctx["timestamp"].min().normalize())
               .dt.total_seconds() // 60).astype(np.int64).tolist()
    fee_frac = world.fee_minor / np.maximum(ctx["amount_minor"].to_numpy(), 1)[:, None]
    shared = shared if shared is not None else np.full(len(ctx), "")
    return [Payment(m, s, world.eligible[i], fee_frac[i], sh) for i, (m, s, sh)
            in enumerate(zip(minutes, ctx["segment"].tolist(), shared.tolist()))]


def replay(policy, pays: list[Payment], world: World, cfg: WorldConfig,
           draws: tuple[np.ndarray, np.ndarray], log_features: bool = False) -> Decisions:
    """Route every payment in order, reveal its outcome, let the policy learn."""
    n, k = world.p_success.shape
    u, v = draws
    pmfs = np.zeros((n, k), np.float32)
    action, success = np.empty(n, np.int8), np.empty(n, bool)
    latency, reward = np.empty(n, np.float32), np.empty(n, np.float32)
    feats = np.empty((n, k, len(FEATURES)), np.float32) if log_features else None
    tracker = WindowStats(k) if log_features else None
    fw, lw = cfg.reward.fee_weight, cfg.reward.latency_weight_per_s
    for i, p in enumerate(pays):
        pmf = policy.pmf(p)
        a = _sample(pmf.tolist(), float(v[i]))
        ok = bool(u[i, a] < world.p_success[i, a])
        lat = float(world.latency_ms[i, a])
        r = reward_of(ok, float(p.fee_frac[a]), lat, fw, lw)
        if tracker is not None:
            feats[i] = _observe(tracker, p)
        policy.update(p, a, ok, lat, r)
        if tracker is not None:
            tracker.record(a, tracker.segment_id(p.segment), ok, lat)
        pmfs[i], action[i], success[i], latency[i], reward[i] = pmf, a, ok, lat, r
    return Decisions(policy.name, action, pmfs[np.arange(n), action], rankings(pmfs, world.eligible),
                     success, latency, reward, feats)


def _sample(pmf: list[float], u: float) -> int:
    """Inverse-CDF draw of an action with probability > 0."""
    x, acc, last = u * sum(pmf), 0.0, 0
    for j, q in enumerate(pmf):
        if q > 0:
            acc += q
            last = j
            if x < acc:
                return j
    return last


def rankings(pmfs: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Gateways by decreasing probability per decision; -1 marks ineligible slots."""
    order = np.argsort(-pmfs, axis=1, kind="stable")
    ok = np.take_along_axis(eligible, order, axis=1)
    return np.where(ok, order, -1).astype(np.int8)


def _observe(tracker: WindowStats, p: Payment) -> np.ndarray:
    tracker.advance(p.minute)
    return tracker.features(tracker.segment_id(p.segment))
