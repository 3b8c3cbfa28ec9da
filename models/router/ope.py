"""Off-policy evaluation from logged decisions: IPS, SNIPS and doubly robust, each with
a 95 % normal confidence interval, plus the reward model the DR estimator leans on.

All estimators take the logged action, its logging propensity, the observed reward and
the target policy's probabilities; DR also takes the reward model's predictions for
every action. They are unbiased when logging propensities are right (SNIPS is
consistent); tests check that on a synthetic case with a known value.

Clipped DR (`doubly_robust(..., max_weight=M)`) trades that unbiasedness for variance.
A logging policy that explores at a small floor (the served router: 0.2 %) shows a
target's differing choice about once per 1/floor decisions, at weight 1/floor (500),
so plain IPS and DR move by several pp on one outcome. Capping each weight at M
bounds that swing; the price is a bias of E[(pi/mu - M)+ * mu * (q_hat - truth)]: the
reward model's error, weighted by the target's mass the log barely covers. It is
small when the reward model is good where the logging policy rarely goes, and zero
when no weight reaches M. A test on a synthetic log with a 0.2 % floor holds plain IPS
and DR to their several-pp errors and clipped DR to under 1 pp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

Z95 = 1.959964


@dataclass(frozen=True)
class Estimate:
    """A policy value estimate and its 95 % confidence interval."""

    value: float
    lo: float
    hi: float
    n: int

    @property
    def ci(self) -> list[float]:
        return [self.lo, self.hi]


def _from_terms(terms: np.ndarray, value: float | None = None) -> Estimate:
    v = float(terms.mean()) if value is None else value
    se = float(terms.std(ddof=1) / np.sqrt(len(terms))) if len(terms) > 1 else float("inf")
    return Estimate(v, v - Z95 * se, v + Z95 * se, len(terms))


def _weights(logged_prob: np.ndarray, target_prob: np.ndarray) -> np.ndarray:
    if np.any(logged_prob <= 0):
        raise ValueError("logged propensities must be > 0 for every logged action")
    return target_prob / logged_prob


def ips(reward: np.ndarray, logged_prob: np.ndarray, target_prob: np.ndarray) -> Estimate:
    """Inverse propensity scoring: mean of w * r with w = pi(a|x) / mu(a|x)."""
    return _from_terms(_weights(logged_prob, target_prob) * reward)


def snips(reward: np.ndarray, logged_prob: np.ndarray, target_prob: np.ndarray) -> Estimate:
    """Self-normalised IPS; its interval comes from the delta method."""
    w = _weights(logged_prob, target_prob)
    value = float((w * reward).sum() / w.sum())
    return _from_terms(w * (reward - value) / w.mean() + value, value)


def doubly_robust(reward: np.ndarray, logged_prob: np.ndarray, action: np.ndarray,
                  target_pmf: np.ndarray, q_hat: np.ndarray,
                  max_weight: float = np.inf) -> Estimate:
    """DR: model value under pi plus the importance-weighted model residual, each
    weight capped at `max_weight` (no cap by default: unbiased)."""
    rows = np.arange(len(action))
    w = np.minimum(_weights(logged_prob, target_pmf[rows, action]), max_weight)
    terms = (target_pmf * q_hat).sum(axis=1) + w * (reward - q_hat[rows, action])
    return _from_terms(terms)


class RewardModel:
    """Logistic success model over one-hot context (DR's direct part): context effects
    every gateway shares, plus each gateway's own deviations from them.

    With `pooled` (the default) a gateway's own block only adds to the shared block,
    and the L2 penalty (strength 1/c) pulls it towards zero, so where a gateway has
    few outcomes (a served router plays a gateway it does not favour once per ~500
    decisions) it is predicted from the shared effects rather than from its dozen own
    outcomes; unpooled, each gateway is a separate model."""

    def __init__(self, k: int, categorical: list[str], numeric: list[str], c: float = 1.0,
                 pooled: bool = True) -> None:
        self.k, self.cat, self.num, self.c, self.pooled = k, categorical, numeric, c, pooled

    def _context(self, ctx: pd.DataFrame) -> sparse.csr_matrix:
        onehot = self._unseen_as_average(self.encoder.transform(ctx[self.cat].astype(str)))
        nums = sparse.csr_matrix(ctx[self.num].to_numpy(dtype=float))
        bias = sparse.csr_matrix(np.ones((len(ctx), 1)))
        return sparse.hstack([bias, onehot, nums]).tocsr()

    def _unseen_as_average(self, onehot: sparse.csr_matrix) -> sparse.csr_matrix:
        """A value not seen in training (an all-zero block) gets the training
        frequencies of its feature's values: the average effect of that feature. A
        zero block stands for no level the model learnt, and its prediction lands
        wherever the penalised coefficients put it; in a one-day log split by time the
        held-out part meets the evening hour band only there."""
        unseen = sparse.csr_matrix((onehot @ self._block).toarray() == 0, dtype=float)
        return (onehot + unseen @ self._freq).tocsr()

    def _design(self, x: sparse.csr_matrix, action: np.ndarray) -> sparse.csr_matrix:
        """Each row's context in the shared block (when pooled) and in its gateway's
        own block of columns."""
        coo = x.tocoo()
        d = x.shape[1]
        cols = coo.col + d * action[coo.row]
        own = sparse.csr_matrix((coo.data, (coo.row, cols)), shape=(x.shape[0], d * self.k))
        return sparse.hstack([x, own]).tocsr() if self.pooled else own

    def fit(self, ctx: pd.DataFrame, action: np.ndarray, reward: np.ndarray) -> "RewardModel":
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import OneHotEncoder

        self.encoder = OneHotEncoder(handle_unknown="ignore").fit(ctx[self.cat].astype(str))
        sizes = [len(c) for c in self.encoder.categories_]
        # column j of the one-hot block -> its categorical feature
        self._block = sparse.csr_matrix((np.ones(sum(sizes)), (np.arange(sum(sizes)),
                                         np.repeat(np.arange(len(sizes)), sizes))))
        freq = np.asarray(self.encoder.transform(ctx[self.cat].astype(str)).mean(axis=0))
        self._freq = sparse.csr_matrix(self._block.T.multiply(freq))
        x = self._design(self._context(ctx), np.asarray(action))
        y = np.asarray(reward) > 0.5
        self.model = LogisticRegression(C=self.c, max_iter=300).fit(x, y)
        return self

    def predict(self, ctx: pd.DataFrame) -> np.ndarray:
        """Predicted success probability of every gateway (n x K)."""
        x = self._context(ctx)
        out = np.empty((len(ctx), self.k))
        for a in range(self.k):
            out[:, a] = self.model.predict_proba(self._design(x, np.full(len(ctx), a)))[:, 1]
        return out
