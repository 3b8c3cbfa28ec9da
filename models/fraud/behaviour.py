"""Behaviour tests a fraud model must pass before it may serve (direction, invariance).

They run on a sample of genuine transactions from the evaluation window: raising the
amount x5 must raise the risk; the same transaction on a terminal with many recent
frauds must score higher; changing identifiers must change nothing. A check whose
columns the model does not use (e.g. a bring-your-own table) is reported as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

AMOUNT_FEATURES = ("amount", "amount_to_cust_avg_30d")
TERMINAL_RISK_FEATURES = ("term_fraud_share_1d", "term_fraud_share_7d",
                          "term_fraud_share_30d")
ID_COLUMNS = ("transaction_id", "customer_id", "terminal_id", "card_id")
HIGH_TERMINAL_FRAUD_SHARE = 0.5
MIN_SHARE_RAISED = 0.5


@dataclass(frozen=True)
class Check:
    """One behaviour check's outcome: passed (None = skipped) and why."""

    name: str
    passed: bool | None
    detail: str


Scorer = Callable[[pd.DataFrame], np.ndarray]


def _direction(name: str, score: Scorer, base: pd.DataFrame, changed: pd.DataFrame) -> Check:
    """Pass if the mean score rises and at least half of the rows score higher."""
    before, after = score(base), score(changed)
    raised = float(np.mean(after > before))
    ok = bool(after.mean() > before.mean() and raised >= MIN_SHARE_RAISED)
    return Check(name, ok, f"mean score {before.mean():.4f} -> {after.mean():.4f}, "
                           f"{raised:.0%} of {len(base)} rows raised "
                           f"(need >= {MIN_SHARE_RAISED:.0%})")


def amount_x5_raises_score(score: Scorer, sample: pd.DataFrame, features: list[str]) -> Check:
    """Multiplying the payment amount by 5 raises the risk score."""
    cols = [c for c in AMOUNT_FEATURES if c in features]
    if "amount" not in cols:
        return Check("amount_x5_raises_score", None, "model has no amount feature")
    changed = sample.copy()
    changed[cols] = changed[cols] * 5
    return _direction("amount_x5_raises_score", score, sample, changed)


def risky_terminal_raises_score(score: Scorer, sample: pd.DataFrame,
                                features: list[str]) -> Check:
    """The same payment on a terminal with many recent frauds scores higher."""
    cols = [c for c in TERMINAL_RISK_FEATURES if c in features]
    if not cols:
        return Check("risky_terminal_raises_score", None,
                     "model has no terminal fraud-share feature")
    changed = sample.copy()
    changed[cols] = HIGH_TERMINAL_FRAUD_SHARE
    return _direction("risky_terminal_raises_score", score, sample, changed)


def renamed_ids_keep_score(score: Scorer, sample: pd.DataFrame, features: list[str],
                           ids: tuple[str, ...] = ID_COLUMNS) -> Check:
    """New identifiers for the same customer, terminal, card: identical scores."""
    cols = [c for c in dict.fromkeys(ids) if c in sample.columns]
    if not cols:
        return Check("renamed_ids_keep_score", None, "sample has no id column")
    changed = sample.copy()
    for c in cols:
        changed[c] = changed[c].to_numpy()[::-1].copy()
    same = bool(np.array_equal(score(sample), score(changed)))
    return Check("renamed_ids_keep_score", same,
                 f"renamed {cols}: scores {'identical' if same else 'changed'}")


def run_all(score: Scorer, sample: pd.DataFrame, features: list[str],
            ids: tuple[str, ...] = ID_COLUMNS) -> list[Check]:
    """Every behaviour check on the same sample (`ids`: identifier columns to rename)."""
    return [amount_x5_raises_score(score, sample, features),
            risky_terminal_raises_score(score, sample, features),
            renamed_ids_keep_score(score, sample, features, ids)]


def genuine_sample(df: pd.DataFrame, label: str, n: int = 500, seed: int = 0) -> pd.DataFrame:
    """Up to n genuine transactions drawn reproducibly from a window."""
    genuine = df[df[label] == 0]
    return genuine.sample(min(n, len(genuine)), random_state=seed)
