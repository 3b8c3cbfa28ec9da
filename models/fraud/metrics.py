"""Fraud metrics as the handbook defines them: AUC ROC, Average Precision, CP@k.

Card Precision@k (handbook, chapter 4): on each day take each card's highest score
(and whether any of its transactions that day was fraud), rank the cards, and count
the frauds among the top k divided by k; cards found compromised on an earlier day
are removed from later days; the result is the mean over days. It measures what an
investigator checking k cards a day would find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score


def auc_roc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count half, as in sklearn)."""
    return float(roc_auc_score(y_true, score))


def average_precision(y_true: np.ndarray, score: np.ndarray) -> float:
    """Average precision: sum over recall steps of precision, no interpolation."""
    return float(average_precision_score(y_true, score))


def card_precision_top_k(
    day: np.ndarray, card: np.ndarray, y_true: np.ndarray, score: np.ndarray,
    k: int = 100,
) -> float:
    """Mean over days of the fraud share among the k highest-scored cards of the day."""
    daily = card_precision_per_day(day, card, y_true, score, k)
    return float(np.mean(daily)) if daily else float("nan")


def card_precision_per_day(
    day: np.ndarray, card: np.ndarray, y_true: np.ndarray, score: np.ndarray,
    k: int = 100,
) -> list[float]:
    """CP@k of each day in increasing day order, detected cards removed later on."""
    df = pd.DataFrame({"day": day, "card": card, "y": y_true, "s": score})
    detected: set = set()
    out = []
    for _, df_day in df.groupby("day", sort=True):
        df_day = df_day[~df_day["card"].isin(detected)]
        top = _top_cards(df_day, k)
        found = top.loc[top["y"] == 1, "card"]
        out.append(len(found) / k)
        detected.update(found.tolist())
    return out


def _top_cards(df_day: pd.DataFrame, k: int) -> pd.DataFrame:
    """Each card's max score and max label, the k highest scores (ties: lower card id)."""
    per_card = df_day.groupby("card", sort=True)[["s", "y"]].max().reset_index()
    per_card = per_card.sort_values("s", ascending=False, kind="stable")
    return per_card.head(k)


def evaluate(
    y_true: np.ndarray, score: np.ndarray, day: np.ndarray | None = None,
    card: np.ndarray | None = None, k: int = 100,
) -> dict[str, float | None]:
    """The three headline metrics; cp100 is None when there is no card column."""
    cp = None
    if day is not None and card is not None:
        cp = card_precision_top_k(day, card, y_true, score, k)
    return {"auc": auc_roc(y_true, score), "ap": average_precision(y_true, score),
            "cp100": cp}
