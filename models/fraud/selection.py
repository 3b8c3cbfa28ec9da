"""Hyperparameter search for XGBoost by prequential validation (Optuna, TPE).

Each trial trains one booster per validation fold and is scored by the mean Average
Precision over folds; class imbalance (`scale_pos_weight`) and the histogram bin count
are part of the search, so validation, never a test window, picks them. Each fold's
validation window is cut in two disjoint parts: early stopping picks the number of
boosting rounds on one (the final model uses the median over folds), the trial is
scored on the other, so the score is not inflated by the rounds chosen on it. The cut
is by card when there is a card column (a card's transactions stay together), else by
time (earlier half stops, later half scores). The winning parameters' scoring-part
predictions are kept: honest validation scores for the decision thresholds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
import xgboost as xgb

from models.fraud.estimators import XGB_FIXED, matrix
from models.fraud.metrics import average_precision
from models.fraud.protocol import Split

log = logging.getLogger(__name__)


@dataclass
class Selection:
    """Best parameters, their mean validation AP, and their validation predictions."""

    params: dict[str, Any]
    val_ap: float
    val_scores: np.ndarray
    val_labels: np.ndarray
    trials: int
    history: list[dict[str, Any]] = field(default_factory=list)


def search_space(trial: optuna.Trial) -> dict[str, Any]:
    """Parameters tried: tree shape, learning rate, rounds, sampling, imbalance weight."""
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "scale_pos_weight": trial.suggest_float("scale_pos_weight", 1.0, 50.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.1, 10.0, log=True),
        "max_bin": trial.suggest_categorical("max_bin", [256, 1024, 4096]),
    }


MAX_ROUNDS = 400
PATIENCE = 20


def stop_and_score_parts(va: pd.DataFrame, card: str | None, seed: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of a validation window's early-stopping part and scoring part."""
    if card is not None:
        cards = pd.unique(va[card])
        rng = np.random.default_rng(seed)
        stop_cards = cards[rng.random(len(cards)) < 0.5]
        stop = va[card].isin(stop_cards).to_numpy()
    else:
        stop = np.arange(len(va)) < len(va) // 2  # rows are in time order
    return np.flatnonzero(stop), np.flatnonzero(~stop)


def _fold_fit(tr: pd.DataFrame, stop: pd.DataFrame, score: pd.DataFrame,
              features: list[str], label: str, params: dict[str, Any], seed: int,
              n_jobs: int) -> tuple[np.ndarray, int]:
    """Scores of the scoring part and the round count early-stopped on the other part."""
    dtr = xgb.DMatrix(matrix(tr, features), label=tr[label].to_numpy())
    dst = xgb.DMatrix(matrix(stop, features), label=stop[label].to_numpy())
    booster = xgb.train({**XGB_FIXED, **params, "seed": seed, "nthread": n_jobs}, dtr,
                        MAX_ROUNDS, evals=[(dst, "stop")], early_stopping_rounds=PATIENCE,
                        verbose_eval=False)
    best = booster.best_iteration + 1
    x = matrix(score, features)
    return booster.inplace_predict(x, iteration_range=(0, best)), best


def _fold_predictions(
    df: pd.DataFrame, folds: list[Split], features: list[str], label: str,
    params: dict[str, Any], seed: int, n_jobs: int, card: str | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """(labels, scores) of each fold's scoring part, and the median best rounds."""
    out, rounds = [], []
    for f in folds:
        tr, va = df.iloc[f.train], df.iloc[f.test]
        stop, score = (va.iloc[p] for p in stop_and_score_parts(va, card, seed))
        scores, best = _fold_fit(tr, stop, score, features, label, params, seed, n_jobs)
        out.append((score[label].to_numpy(), np.asarray(scores, dtype=float)))
        rounds.append(best)
    return out, int(np.median(rounds))


def _mean_ap(preds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    aps = [average_precision(y, s) for y, s in preds if 0 < y.sum() < len(y)]
    return float(np.mean(aps)) if aps else 0.0


def tune_xgb(
    df: pd.DataFrame, folds: list[Split], features: list[str], label: str,
    n_trials: int = 20, seed: int = 0, n_jobs: int = 1, timeout: float | None = None,
    card: str | None = None,
) -> Selection:
    """Search parameters maximising mean validation AP over the prequential folds."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(_default_like())

    kept: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def objective(trial: optuna.Trial) -> float:
        preds, rounds = _fold_predictions(df, folds, features, label,
                                          search_space(trial), seed, n_jobs, card)
        kept[trial.number] = preds
        trial.set_user_attr("n_estimators", rounds)
        value = _mean_ap(preds)
        log.info("trial %d: mean val AP %.4f (%d rounds) %s", trial.number, value, rounds,
                 trial.params)
        return value

    study.optimize(objective, n_trials=n_trials, timeout=timeout)
    best = {**study.best_params, **study.best_trial.user_attrs}
    preds = kept[study.best_trial.number]
    history = [{"number": t.number, "value": t.value, **t.params, **t.user_attrs}
               for t in study.trials]
    return Selection(best, study.best_value, np.concatenate([p[1] for p in preds]),
                     np.concatenate([p[0] for p in preds]), len(study.trials), history)


def _default_like() -> dict[str, Any]:
    """First trial: XGBoost's defaults, so the search never ends below them."""
    return {"max_depth": 6, "learning_rate": 0.3, "min_child_weight": 1.0,
            "subsample": 1.0, "colsample_bytree": 1.0, "scale_pos_weight": 1.0,
            "reg_lambda": 1.0, "max_bin": 256}


def reselect(
    df: pd.DataFrame, folds: list[Split], features: list[str], label: str,
    sel: Selection, seed: int = 0, n_jobs: int = 1, card: str | None = None,
) -> Selection:
    """A selection's parameters on another feature set, without a new search: the same
    folds give its own early-stopped round count, validation AP and validation scores
    (for its thresholds). Variants compared this way differ only in their features."""
    params = {k: v for k, v in sel.params.items() if k != "n_estimators"}
    preds, rounds = _fold_predictions(df, folds, features, label, params, seed, n_jobs,
                                      card)
    return Selection({**params, "n_estimators": rounds}, _mean_ap(preds),
                     np.concatenate([p[1] for p in preds]),
                     np.concatenate([p[0] for p in preds]), 0)
