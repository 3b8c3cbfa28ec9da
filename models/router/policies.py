"""Baseline routing policies: static fee priority, uniform random, sliding-window
success rate with hedging and elimination (Juspay's decision-engine design), and
Thompson sampling on discounted Beta posteriors per gateway x segment.

Every policy returns a full probability vector over the K gateways (zero for the
ineligible), so each decision can be logged with its propensity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.router.config import Elimination
from models.router.stats import WINDOWS_MIN, WindowStats


@dataclass(slots=True)
class Payment:
    """What a policy needs to route one payment."""

    minute: int
    segment: str
    eligible: np.ndarray  # K booleans
    fee_frac: np.ndarray  # K fees as a share of the amount
    shared: str = ""  # VW shared line (only the VW policy reads it)


def uniform(eligible: np.ndarray) -> np.ndarray:
    """Equal probability on every eligible gateway."""
    return eligible / eligible.sum()


def eliminated(stats: WindowStats, sid: int, rule: Elimination) -> np.ndarray:
    """Gateways whose recent success rate fell below the floor, by segment or overall."""
    w = _window_index(rule.window_minutes)
    seg = (stats.attempts(w, sid) >= rule.min_attempts) & (stats.success_rate(w, sid) < rule.below)
    glob = (stats.attempts(w) >= 4 * rule.min_attempts) & (stats.success_rate(w) < rule.below)
    return seg | glob


def _window_index(minutes: int) -> int:
    """The tracked window closest to the configured one (15 min, 1 h or 24 h)."""
    return int(np.argmin([abs(w - minutes) for w in WINDOWS_MIN]))


def with_elimination(pmf: np.ndarray, out: np.ndarray, probe: float) -> np.ndarray:
    """Move mass off eliminated gateways, leaving each a small probe probability."""
    live = pmf > 0
    gone, keep = out & live, ~out & live
    if not gone.any() or not keep.any():
        return pmf
    res = np.zeros_like(pmf)
    res[gone] = probe
    res[keep] = pmf[keep] / pmf[keep].sum() * (1.0 - probe * gone.sum())
    return res


class StaticFeeRule:
    """What most merchants run: the cheapest eligible gateway, always."""

    name = "static_rule"

    def pmf(self, p: Payment) -> np.ndarray:
        fee = np.where(p.eligible, p.fee_frac, np.inf)
        out = np.zeros(len(fee))
        out[int(np.argmin(fee))] = 1.0
        return out

    def update(self, p: Payment, action: int, success: bool, latency_ms: float, reward: float) -> None:
        """A static rule learns nothing."""


class RandomPolicy:
    """Uniform volume split over eligible gateways (also the offline logging policy)."""

    name = "random"

    def pmf(self, p: Payment) -> np.ndarray:
        return uniform(p.eligible)

    def update(self, p: Payment, action: int, success: bool, latency_ms: float, reward: float) -> None:
        """Uniform routing ignores outcomes."""


class SlidingWindowSR:
    """Best success rate over each gateway x segment's last N attempts, hedged and
    with gateways eliminated while their 15-minute success rate is below a floor."""

    name = "sliding_window_sr"

    def __init__(self, k: int, window: int, hedge: float, rule: Elimination,
                 prior_sr: float = 0.9) -> None:
        self.window, self.hedge, self.rule, self.prior = window, hedge, rule, prior_sr
        self.stats = WindowStats(k)
        # Per segment: ring of the last N outcomes per gateway, its fill and its sum.
        self.buf: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _table(self, sid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.buf.get(sid)
        if t is None:
            k = self.stats.k
            t = self.buf[sid] = (np.zeros((k, self.window)), np.zeros(k, np.int64), np.zeros(k))
        return t

    def _sr(self, sid: int) -> np.ndarray:
        _, seen, total = self._table(sid)
        return (total + 2 * self.prior) / (np.minimum(seen, self.window) + 2)

    def pmf(self, p: Payment) -> np.ndarray:
        self.stats.advance(p.minute)
        sid = self.stats.segment_id(p.segment)
        out = eliminated(self.stats, sid, self.rule) & p.eligible
        live = p.eligible & ~out if (p.eligible & ~out).any() else p.eligible
        sr = np.where(live, self._sr(sid), -np.inf)
        pmf = self.hedge * uniform(live)
        pmf[int(np.argmax(sr))] += 1.0 - self.hedge
        return pmf

    def update(self, p: Payment, action: int, success: bool, latency_ms: float, reward: float) -> None:
        sid = self.stats.segment_id(p.segment)
        self.stats.record(action, sid, success, latency_ms)
        ring, seen, total = self._table(sid)
        slot = seen[action] % self.window
        total[action] += float(success) - ring[action, slot]
        ring[action, slot] = float(success)
        seen[action] += 1


class Thompson:
    """Thompson sampling on Beta(successes, failures) per gateway x segment, discounted
    so old evidence fades; the propensity is the Monte-Carlo share of wins."""

    name = "thompson"

    def __init__(self, k: int, discount: float, rng: np.random.Generator,
                 prior: tuple[float, float] = (9.0, 1.0), draws: int = 64) -> None:
        self.k, self.discount, self.rng, self.prior, self.draws = k, discount, rng, prior, draws
        self.ab: dict[str, np.ndarray] = {}

    def _params(self, segment: str) -> np.ndarray:
        ab = self.ab.get(segment)
        if ab is None:
            ab = self.ab[segment] = np.tile(np.array(self.prior), (self.k, 1))
        return ab

    def pmf(self, p: Payment) -> np.ndarray:
        ab = self._params(p.segment)
        theta = self.rng.beta(ab[:, 0], ab[:, 1], size=(self.draws, self.k))
        theta[:, ~p.eligible] = -1.0
        wins = np.bincount(theta.argmax(axis=1), minlength=self.k)
        return wins / self.draws

    def update(self, p: Payment, action: int, success: bool, latency_ms: float, reward: float) -> None:
        ab = self._params(p.segment)
        ab[action] = self.discount * ab[action] + np.array([success, 1.0 - success])
