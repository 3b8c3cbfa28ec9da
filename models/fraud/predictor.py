"""Scoring a transaction: risk score in [0, 1], decision, top contributing features.

The predictor holds one XGBoost booster (loaded once), the ordered feature list it was
trained on and the decision thresholds chosen at training time. Input is a DataFrame
with at least those feature columns (extra columns such as ids are ignored); the
order of `features` is the column order of the model's input matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from models.fraud.thresholds import Thresholds
from smartpay.errors import InputError

Prediction = tuple[float, str, list[tuple[str, float]]]


@dataclass
class FraudPredictor:
    """A trained fraud detector ready to score rows of features."""

    booster: xgb.Booster
    features: list[str]
    thresholds: Thresholds
    top_n: int = 3
    version: str | None = None
    # Exact TreeSHAP costs ~0.25 ms a row; Saabas approximations ~0.006 ms (big batches).
    approx_contribs: bool = False

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        """The model input: feature columns in training order as float32."""
        missing = [f for f in self.features if f not in df.columns]
        if missing:
            raise InputError("features", missing[0], f"columns {self.features}")
        return df[self.features].to_numpy(dtype=np.float32, na_value=np.nan)

    def scores(self, df: pd.DataFrame) -> np.ndarray:
        """Fraud probability of each row."""
        return self.score_matrix(self.matrix(df))

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        """Fraud probability of each row of an already ordered float32 matrix."""
        return np.asarray(self.booster.inplace_predict(x, validate_features=False),
                          dtype=float)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-row, per-feature SHAP contributions in log-odds (bias column dropped)."""
        return self._contributions(self._dmatrix(x))

    def _dmatrix(self, x: np.ndarray) -> xgb.DMatrix:
        # nthread=1: the default spreads a few rows over every core, and on a small
        # shared box the threads' hand-offs cost more than the rows. No feature names:
        # the columns are in training order by construction (`matrix`), and checking
        # the names costs more than predicting a row.
        return xgb.DMatrix(x, nthread=1)

    def _contributions(self, dm: xgb.DMatrix) -> np.ndarray:
        return self.booster.predict(dm, pred_contribs=True, validate_features=False,
                                    approx_contribs=self.approx_contribs)[:, :-1]

    def predict(self, df: pd.DataFrame) -> list[Prediction]:
        """(score, decision, top features pushing towards fraud) for each row."""
        return self.predict_matrix(self.matrix(df))

    def predict_matrix(self, x: np.ndarray) -> list[Prediction]:
        """`predict` over an already ordered float32 matrix (the serving path, which
        builds it straight from online feature values without a DataFrame)."""
        dm = self._dmatrix(x)  # one matrix for the scores and their explanations
        scores = np.asarray(self.booster.predict(dm, validate_features=False), dtype=float)
        decisions = self.thresholds.decide_many(scores)
        contrib = self._contributions(dm)
        top = np.argsort(-contrib, axis=1, kind="stable")[:, : self.top_n]
        picked = np.round(np.take_along_axis(contrib, top, axis=1), 4)
        names = self.features
        return [(s, d, [(names[i], c) for i, c in zip(idx, vals)])
                for s, d, idx, vals in zip(scores.tolist(), decisions.tolist(),
                                           top.tolist(), picked.tolist())]
