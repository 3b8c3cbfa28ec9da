"""Decision thresholds chosen on validation scores to meet false-positive budgets.

`review` flags at most `review_fp_rate` of genuine validation transactions and
`decline` at most `decline_fp_rate`; a score at or above a threshold takes its action.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field


class FpBudget(BaseModel):
    """Share of genuine transactions the business accepts to review or decline."""

    review_fp_rate: float = Field(0.01, gt=0, lt=1)
    decline_fp_rate: float = Field(0.001, gt=0, lt=1)


class Thresholds(BaseModel):
    """Scores at which a transaction goes to review or is declined."""

    review: float
    decline: float
    review_fp_rate: float
    decline_fp_rate: float
    review_recall: float
    decline_recall: float

    def decide(self, score: float) -> str:
        """approve / review / decline for one score."""
        if score >= self.decline:
            return "decline"
        return "review" if score >= self.review else "approve"

    def decide_many(self, scores: np.ndarray) -> np.ndarray:
        """Vectorised decide over an array of scores."""
        return np.where(scores >= self.decline, "decline",
                        np.where(scores >= self.review, "review", "approve"))


def threshold_for_fp_rate(genuine_scores: np.ndarray, fp_rate: float) -> float:
    """Lowest score threshold flagging at most fp_rate of the genuine scores."""
    s = np.sort(np.asarray(genuine_scores, dtype=float))[::-1]
    allowed = int(np.floor(fp_rate * len(s)))
    if allowed >= len(s):
        return 0.0
    return float(np.nextafter(s[allowed], np.inf))


def choose_thresholds(y: np.ndarray, scores: np.ndarray, budget: FpBudget) -> Thresholds:
    """Review and decline thresholds from validation labels and scores."""
    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    genuine, fraud = scores[y == 0], scores[y == 1]
    review = threshold_for_fp_rate(genuine, budget.review_fp_rate)
    decline = max(threshold_for_fp_rate(genuine, budget.decline_fp_rate), review)
    return Thresholds(
        review=review, decline=decline,
        review_fp_rate=_share(genuine >= review), decline_fp_rate=_share(genuine >= decline),
        review_recall=_share(fraud >= review), decline_recall=_share(fraud >= decline),
    )


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if mask.size else 0.0
