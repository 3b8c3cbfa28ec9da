"""Bootstrap confidence intervals resampled by card, paired across models (pure numpy).

Transactions of one card are not independent (a compromised card shows several
frauds), so a resample draws cards with replacement and keeps every transaction of a
drawn card as often as the card was drawn. Each resample is applied to every model at
once, so differences between models are paired. Cards are numbered per world: test
sets of the same world (consecutive weeks of one simulation) share one draw, so a card
drawn twice counts twice in every week it appears.

Metrics under a resample are computed with integer weights (a card drawn m times
weighs m); weighted AUC and AP equal sklearn's with `sample_weight`, which equals
duplicating the rows. Ranks are sorted once per model, so a resample costs O(rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

METRICS = ("auc", "ap", "cp100")


@dataclass
class ScoredSet:
    """One test window: labels, card numbers (0..n_cards-1 of its world), day numbers
    (None: no card column, CP@k undefined) and each model's scores."""

    y: np.ndarray
    card: np.ndarray
    day: np.ndarray | None
    scores: dict[str, np.ndarray]
    world: int = 0


class _Ranked:
    """One model's scores sorted descending, with the ends of groups of tied scores."""

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        self.order = np.argsort(-score, kind="stable")
        s = score[self.order]
        self.y = y[self.order].astype(float)
        self.ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]

    def auc_ap(self, w_row: np.ndarray) -> tuple[float, float]:
        """Weighted AUC ROC (ties count half) and average precision."""
        w = w_row[self.order]
        tp = np.cumsum(w * self.y)[self.ends]
        fp = np.cumsum(w * (1 - self.y))[self.ends]
        p, n = tp[-1], fp[-1]
        if p == 0 or n == 0:
            return float("nan"), float("nan")
        pos, neg = np.diff(tp, prepend=0.0), np.diff(fp, prepend=0.0)
        auc = float(np.sum(pos * (n - fp) + 0.5 * pos * neg) / (p * n))
        flagged = tp + fp
        precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
        ap = float(np.sum(pos / p * precision))
        return auc, ap


class _CardDays:
    """One model's card-days (max score, max label), ordered for CP@k per day."""

    def __init__(self, day: np.ndarray, card: np.ndarray, y: np.ndarray,
                 score: np.ndarray) -> None:
        cd = (pd.DataFrame({"d": day, "c": card, "s": score, "y": y})
              .groupby(["d", "c"], sort=True)[["s", "y"]].max().reset_index())
        # Per day: highest score first, ties to the lower card number (as metrics.py).
        cd = cd.sort_values(["d", "s", "c"], ascending=[True, False, True], kind="stable")
        self.card = cd["c"].to_numpy()
        self.y = cd["y"].to_numpy().astype(float)
        d = cd["d"].to_numpy()
        self.bounds = np.r_[0, np.flatnonzero(d[1:] != d[:-1]) + 1, len(d)]

    def cp_at_k(self, mult: np.ndarray, k: int) -> float:
        """Mean daily share of frauds among the top k (weighted) cards, detected cards
        dropped from later days."""
        detected = np.zeros(len(mult), dtype=bool)
        daily = []
        for lo, hi in zip(self.bounds[:-1], self.bounds[1:]):
            c, y = self.card[lo:hi], self.y[lo:hi]
            m = mult[c] * ~detected[c]
            before = np.cumsum(m) - m
            take = np.clip(k - before, 0, m)
            daily.append(float(np.sum(take * y)) / k)
            detected[c[(take > 0) & (y == 1)]] = True
        return float(np.mean(daily)) if daily else float("nan")


class CardBootstrap:
    """Point estimates and card resamples of AUC / AP / CP@k for several test sets."""

    def __init__(self, sets: list[ScoredSet], models: list[str], k: int = 100) -> None:
        self.sets, self.models, self.k = sets, models, k
        self.n_cards = {}
        for s in sets:
            self.n_cards[s.world] = max(self.n_cards.get(s.world, 0), int(s.card.max()) + 1)
        self._ranked = [{m: _Ranked(s.y, s.scores[m]) for m in models} for s in sets]
        self._days = [{m: _CardDays(s.day, s.card, s.y, s.scores[m]) for m in models}
                      if s.day is not None else None for s in sets]

    def _evaluate(self, mult: dict[int, np.ndarray]) -> np.ndarray:
        """Metrics (sets x models x 3) with card multiplicities per world."""
        out = np.full((len(self.sets), len(self.models), 3), np.nan)
        for i, s in enumerate(self.sets):
            m_card = mult[s.world]
            w_row = m_card[s.card].astype(float)
            for j, name in enumerate(self.models):
                out[i, j, :2] = self._ranked[i][name].auc_ap(w_row)
                if self._days[i] is not None:
                    out[i, j, 2] = self._days[i][name].cp_at_k(m_card, self.k)
        return out

    def point(self) -> np.ndarray:
        """Metrics on the data as observed (every card once)."""
        return self._evaluate({w: np.ones(n, dtype=np.int64)
                               for w, n in self.n_cards.items()})

    def draw(self, rng: np.random.Generator) -> dict[int, np.ndarray]:
        """One resample of cards: each card's multiplicity, per world (drawn
        independently, in world order)."""
        return {w: np.bincount(rng.integers(0, n, n), minlength=n)
                for w, n in sorted(self.n_cards.items())}

    def draws(self, n_boot: int, seed: int = 0) -> Iterator[dict[int, np.ndarray]]:
        """The n_boot resamples `run` evaluates (same seed, same draws), for other
        statistics that must be paired with its metrics."""
        rng = np.random.default_rng(seed)
        return (self.draw(rng) for _ in range(n_boot))

    def resample(self, rng: np.random.Generator) -> np.ndarray:
        """Metrics under one resample of cards."""
        return self._evaluate(self.draw(rng))

    def run(self, n_boot: int, seed: int = 0) -> np.ndarray:
        """n_boot resamples: an array (n_boot x sets x models x 3)."""
        return np.stack([self._evaluate(m) for m in self.draws(n_boot, seed)])


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples along axis 0 (NaNs ignored)."""
    a = (1 - level) / 2
    lo, hi = np.nanquantile(samples, [a, 1 - a], axis=0)
    return lo, hi


def card_codes(cards: pd.Series | np.ndarray) -> np.ndarray:
    """Cards numbered 0..n-1 in sorted order of their ids."""
    codes, _ = pd.factorize(pd.Series(cards), sort=True)
    return codes
