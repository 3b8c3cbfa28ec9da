"""Reselection: the searched parameters carried to another feature set."""

import numpy as np
import pandas as pd

from models.fraud.protocol import Columns, Windows, prequential_splits
from models.fraud.selection import reselect, tune_xgb

START = pd.Timestamp("2024-03-01")


def _frame(n=6000, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = START - pd.Timedelta(days=42) + pd.to_timedelta(
        np.sort(rng.integers(0, 63 * 86_400, n)), unit="s")
    signal, noise = rng.random(n), rng.random(n)
    y = (rng.random(n) < np.where(signal > 0.85, 0.6, 0.02)).astype(int)
    return pd.DataFrame({"event_timestamp": t, "card_id": rng.integers(0, 800, n),
                         "signal": signal, "noise": noise, "is_fraud": y})


def test_reselecting_the_searched_features_reproduces_the_search_validation():
    df = _frame()
    folds = prequential_splits(df, START, Windows(n_folds=2), Columns())
    sel = tune_xgb(df, folds, ["signal", "noise"], "is_fraud", n_trials=2, seed=1,
                   card="card_id")
    again = reselect(df, folds, ["signal", "noise"], "is_fraud", sel, seed=1,
                     card="card_id")
    assert again.params == sel.params and again.val_ap == sel.val_ap
    assert np.array_equal(again.val_scores, sel.val_scores)


def test_a_variant_without_the_informative_feature_validates_worse_with_its_own_rounds():
    df = _frame()
    folds = prequential_splits(df, START, Windows(n_folds=2), Columns())
    sel = tune_xgb(df, folds, ["signal", "noise"], "is_fraud", n_trials=2, seed=1,
                   card="card_id")
    blind = reselect(df, folds, ["noise"], "is_fraud", sel, seed=1, card="card_id")
    assert blind.val_ap < sel.val_ap - 0.2
    assert {k: v for k, v in blind.params.items() if k != "n_estimators"} == \
        {k: v for k, v in sel.params.items() if k != "n_estimators"}
    assert len(blind.val_scores) == len(sel.val_scores)
