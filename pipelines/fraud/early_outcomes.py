"""Early outcomes: operator review verdicts as terminal risk features (pure steps).

The terminal risk features see labels only after the 7-day label delay, so a terminal
compromised this week looks clean until next week (the blind spot). Transactions the
deployed model sends to review get a verdict within a day, though. These steps replay
that, point in time, on a labelled feature table sorted by time:

1. the deployed model of each week is an XGBoost (library defaults) trained on the
   newest week whose labels are known at the week's start (two weeks back);
2. it flags for review the share of traffic `rate` of the previous week's scores
   said would be the top (no label is needed to set that threshold);
3. a flagged transaction's verdict (its label) is known `verdict_delay` after it;
   a transaction at t sees, for its terminal, the verdicts known in (t - window, t].

This is an evaluation experiment: serving has no such feature until a Feast view of
verdicts exists (`features/`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.fraud.estimators import fit_score_baseline, matrix
from models.fraud.protocol import day_number

EARLY_FEATURES = ["term_review_frauds_7d", "term_reviews_7d"]


def week_blocks(time: pd.Series, days: int = 7) -> np.ndarray:
    """Week number of each row, 0 = oldest; weeks are counted back from the last day
    so they line up with test weeks that end with the data."""
    day = day_number(time)
    back = (day.max() - day) // days
    return back.max() - back


def deployed_scores(df: pd.DataFrame, features: list[str], label: str, blocks: np.ndarray,
                    seed: int = 0, n_jobs: int = 1) -> np.ndarray:
    """Score of each row by the model deployed in its week (trained on week - 2);
    NaN in the first two weeks (no model deployed yet)."""
    scores = np.full(len(df), np.nan)
    for b in np.unique(blocks):
        train, now = blocks == b - 2, blocks == b
        y = df.loc[train, label].to_numpy()
        if not train.any() or y.min() == y.max():
            continue
        scores[now] = fit_score_baseline("xgboost_default", matrix(df[train], features),
                                         y, matrix(df[now], features), seed, n_jobs)
    return scores


def review_flags(scores: np.ndarray, blocks: np.ndarray, rate: float = 0.01) -> np.ndarray:
    """Flag rows scoring at or above the (1 - rate) quantile of the previous week."""
    flags = np.zeros(len(scores), dtype=bool)
    for b in np.unique(blocks):
        before = scores[(blocks == b - 1) & ~np.isnan(scores)]
        if len(before):
            now = blocks == b
            flags[now] = scores[now] >= np.quantile(before, 1 - rate)
    return flags


def terminal_verdicts(df: pd.DataFrame, flags: np.ndarray, label: str = "is_fraud",
                      time_col: str = "event_timestamp", terminal: str = "terminal_id",
                      verdict_delay: pd.Timedelta = pd.Timedelta(days=1),
                      window: pd.Timedelta = pd.Timedelta(days=7)) -> pd.DataFrame:
    """Per row: the terminal's review verdicts known in (t - window, t]: frauds found
    and reviews done (verdict time = transaction time + verdict_delay)."""
    t = df[time_col].to_numpy().astype("datetime64[s]").astype(np.int64)
    term = df[terminal].to_numpy()
    known = t[flags] + int(verdict_delay.total_seconds())
    fraud = df[label].to_numpy()[flags] == 1
    out = {}
    for name, keep in (("term_review_frauds_7d", fraud), ("term_reviews_7d", None)):
        ev_t = known if keep is None else known[keep]
        ev_term = term[flags] if keep is None else term[flags][keep]
        out[name] = count_in_window(term, t, ev_term, ev_t, int(window.total_seconds()))
    return pd.DataFrame(out, index=df.index)


def count_in_window(key: np.ndarray, t: np.ndarray, ev_key: np.ndarray,
                    ev_t: np.ndarray, width: int) -> np.ndarray:
    """For each (key, t): events of the same key with time in (t - width, t]."""
    if len(ev_t) == 0:
        return np.zeros(len(t), dtype=np.int64)
    span = int(max(t.max(), ev_t.max()) - min(t.min(), ev_t.min())) + width + 1
    lo = int(min(t.min(), ev_t.min()))
    codes, uniq = pd.factorize(np.concatenate([key, ev_key]))
    k, ev_k = codes[:len(key)], codes[len(key):]
    ev = np.sort(ev_k.astype(np.int64) * 2 * span + (ev_t - lo))
    q = k.astype(np.int64) * 2 * span + (t - lo)
    return (np.searchsorted(ev, q, side="right")
            - np.searchsorted(ev, q - width, side="right")).astype(np.int64)


def add_early_outcomes(df: pd.DataFrame, features: list[str], label: str = "is_fraud",
                       seed: int = 0, rate: float = 0.01) -> pd.DataFrame:
    """df with EARLY_FEATURES added (NaN before the first deployed model flags)."""
    blocks = week_blocks(df["event_timestamp"])
    scores = deployed_scores(df, features, label, blocks, seed)
    flags = review_flags(scores, blocks, rate)
    early = terminal_verdicts(df, flags, label).astype(float)
    if flags.any():  # before the stream has filled a window the count is unknown
        first = df["event_timestamp"][flags].min()
        early[df["event_timestamp"] < first + pd.Timedelta(days=8)] = np.nan
    else:
        early[:] = np.nan
    return pd.concat([df, early], axis=1)
