"""Hyperparameter search for XGBoost by prequential validation (Optuna, TPE).

Each trial trains one booster per validation fold and is scored by the mean Average
Precision over folds; class imbalance is part of the search (`scale_pos_weight`). The
number of boosting rounds is found by early stopping on each fold's validation week
(the final model uses the median), which also keeps a search affordable on 2 cores.
The winning parameters' fold predictions are kept: they are honest validation scores
from which the decision thresholds are chosen.
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
    }


MAX_ROUNDS = 400
PATIENCE = 20


def _fold_fit(tr: pd.DataFrame, va: pd.DataFrame, features: list[str], label: str,
              params: dict[str, Any], seed: int, n_jobs: int) -> tuple[np.ndarray, int]:
    """Validation scores and best round count of one fold (early stopping on AUCPR)."""
    dtr = xgb.DMatrix(matrix(tr, features), label=tr[label].to_numpy())
    dva = xgb.DMatrix(matrix(va, features), label=va[label].to_numpy())
    booster = xgb.train({**XGB_FIXED, **params, "seed": seed, "nthread": n_jobs}, dtr,
                        MAX_ROUNDS, evals=[(dva, "val")], early_stopping_rounds=PATIENCE,
                        verbose_eval=False)
    best = booster.best_iteration + 1
    return booster.predict(dva, iteration_range=(0, best)), best


def _fold_predictions(
    df: pd.DataFrame, folds: list[Split], features: list[str], label: str,
    params: dict[str, Any], seed: int, n_jobs: int,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """(labels, scores) of each fold's validation rows, and the median best rounds."""
    out, rounds = [], []
    for f in folds:
        tr, va = df.iloc[f.train], df.iloc[f.test]
        scores, best = _fold_fit(tr, va, features, label, params, seed, n_jobs)
        out.append((va[label].to_numpy(), scores))
        rounds.append(best)
    return out, int(np.median(rounds))


def _mean_ap(preds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    aps = [average_precision(y, s) for y, s in preds if 0 < y.sum() < len(y)]
    return float(np.mean(aps)) if aps else 0.0


def tune_xgb(
    df: pd.DataFrame, folds: list[Split], features: list[str], label: str,
    n_trials: int = 20, seed: int = 0, n_jobs: int = 1, timeout: float | None = None,
) -> Selection:
    """Search parameters maximising mean validation AP over the prequential folds."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(_default_like())

    kept: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def objective(trial: optuna.Trial) -> float:
        preds, rounds = _fold_predictions(df, folds, features, label,
                                          search_space(trial), seed, n_jobs)
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
            "reg_lambda": 1.0}
