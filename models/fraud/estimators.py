"""The four contenders: logistic regression, random forest, default and tuned XGBoost.

Baselines use the handbook's library defaults so their numbers are comparable with the
published anchors; missing feature values (an entity with no history) become 0 for the
sklearn models, while XGBoost learns its own default direction for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

BASELINES = ("logistic_regression", "random_forest", "xgboost_default")
TUNED = "xgboost_tuned"
# Fixed settings of the tuned XGBoost: histogram trees and probability output. The bin
# count is searched with the other parameters (selection.py): coarse bins can blur
# sharp amount thresholds such as the > 220 fraud rule, but only validation decides.
XGB_FIXED: dict[str, Any] = {"tree_method": "hist", "objective": "binary:logistic",
                             "eval_metric": "aucpr"}


def matrix(df: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Feature columns in the given order as a float32 matrix (NaN kept)."""
    return df[features].to_numpy(dtype=np.float32, na_value=np.nan)


def baseline(name: str, seed: int, n_jobs: int) -> Any:
    """An unfitted sklearn-style estimator for a baseline name."""
    if name == "logistic_regression":
        return make_pipeline(SimpleImputer(strategy="constant", fill_value=0),
                             StandardScaler(), LogisticRegression(max_iter=1000,
                                                                  random_state=seed))
    if name == "random_forest":
        return make_pipeline(SimpleImputer(strategy="constant", fill_value=0),
                             RandomForestClassifier(random_state=seed, n_jobs=n_jobs))
    if name == "xgboost_default":
        return xgb.XGBClassifier(random_state=seed, n_jobs=n_jobs, tree_method="hist")
    raise ValueError(f"unknown baseline {name!r}")


def fit_score_baseline(
    name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
    seed: int = 0, n_jobs: int = 2,
) -> np.ndarray:
    """Fit a baseline on the training rows; return fraud probabilities of the test rows."""
    model = baseline(name, seed, n_jobs)
    model.fit(x_train, y_train)
    return model.predict_proba(x_test)[:, 1]


def fit_xgb(
    x: np.ndarray, y: np.ndarray, params: dict[str, Any], features: list[str],
    seed: int = 0, n_jobs: int = 2,
) -> xgb.Booster:
    """Train a booster with tuned params (n_estimators = boosting rounds)."""
    params = dict(params)
    rounds = int(params.pop("n_estimators", 100))
    full = {**XGB_FIXED, **params, "seed": seed, "nthread": n_jobs}
    dtrain = xgb.DMatrix(x, label=y, feature_names=features)
    return xgb.train(full, dtrain, num_boost_round=rounds)


def score_booster(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    """Fraud probabilities of rows (inplace prediction, no DMatrix copy)."""
    return np.asarray(booster.inplace_predict(x, validate_features=False), dtype=float)
