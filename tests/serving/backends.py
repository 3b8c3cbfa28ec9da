"""A tiny fraud backend for tests: an XGBoost booster trained through the fraud model's
public `fit_xgb` on a small simulated world, on request-time features only (amount,
night, weekend), so the serving tests do not need Feast or the MLflow champion."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import numpy as np
import xgboost as xgb

FEATURES = ["amount", "is_night", "is_weekend"]


def _features(amount_minor, epoch_s) -> np.ndarray:
    ts = [datetime.fromtimestamp(int(s), timezone.utc) for s in epoch_s]
    return np.column_stack([np.asarray(amount_minor, dtype=np.float32) / 100.0,
                            [t.hour <= 6 for t in ts], [t.weekday() >= 5 for t in ts]]
                           ).astype(np.float32)


@lru_cache(maxsize=1)
def _booster() -> xgb.Booster:
    from models.fraud.estimators import fit_xgb
    from pipelines.simulate.pipeline import SimulationParams, simulate

    df = simulate(SimulationParams(customers=300, terminals=600, days=15, seed=3))
    epoch = df["timestamp"].astype("int64") // 10**9
    x = _features(df["amount_minor"].to_numpy(), epoch.to_numpy())
    params = {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.3}
    return fit_xgb(x, df["is_fraud"].to_numpy(), params, FEATURES, seed=0, n_jobs=1)


class TinyFraud:
    version = "tiny-test"

    def __init__(self, review: float = 0.5, decline: float = 0.8) -> None:
        self.booster, self.review, self.decline = _booster(), review, decline
        self.thresholds = {"review": review, "decline": decline}

    def predict(self, rows: list[dict]) -> list[dict]:
        x = _features([r["amount_minor"] for r in rows], [r["tx_epoch_s"] for r in rows])
        dm = xgb.DMatrix(x, feature_names=FEATURES)
        risk = self.booster.predict(dm)
        contrib = self.booster.predict(dm, pred_contribs=True)[:, :-1]
        return [{"risk_score": float(p), "decision": self._decision(p),
                 "top_features": [{"feature": FEATURES[j], "contribution": float(c[j])}
                                  for j in np.argsort(-np.abs(c))[:3]]}
                for p, c in zip(risk, contrib, strict=True)]

    def _decision(self, p: float) -> str:
        return "decline" if p >= self.decline else "review" if p >= self.review else "approve"


def tiny_fraud() -> TinyFraud:
    return TinyFraud()


def reviewing_fraud() -> TinyFraud:
    """Every transaction goes to review (review threshold 0, decline only at a risk of 1)."""
    return TinyFraud(review=0.0, decline=1.0)


class RegisteredFraud:
    """`fraud-detector@champion` from the MLflow registry with its registered
    thresholds, scoring the request-time features only (no Feast)."""

    def __init__(self, predictor) -> None:
        self.predictor, self.version = predictor, str(predictor.version)
        self.thresholds = {"review": predictor.thresholds.review,
                           "decline": predictor.thresholds.decline}

    def predict(self, rows: list[dict]) -> list[dict]:
        x = _features([r["amount_minor"] for r in rows], [r["tx_epoch_s"] for r in rows])
        return [{"risk_score": s, "decision": d,
                 "top_features": [{"feature": f, "contribution": c} for f, c in top]}
                for s, d, top in self.predictor.predict_matrix(x)]


def registered_fraud() -> RegisteredFraud:
    from models.fraud.registry import FraudRegistry

    return RegisteredFraud(FraudRegistry.from_settings().load_predictor("champion"))


def _registered_version() -> str | None:
    from models.fraud.registry import FraudRegistry

    return FraudRegistry.from_settings().version_for_alias("champion")


registered_fraud.probe = _registered_version  # type: ignore[attr-defined]


def register_tiny(registry, review: float, decline: float) -> str:
    """Register the tiny booster as a new `fraud-detector` version with these
    thresholds; its version number."""
    import pandas as pd

    from models.fraud.predictor import FraudPredictor
    from models.fraud.thresholds import Thresholds

    thresholds = Thresholds(review=review, decline=decline, review_fp_rate=0.01,
                            decline_fp_rate=0.001, review_recall=0.0, decline_recall=0.0)
    predictor = FraudPredictor(_booster(), FEATURES, thresholds)
    example = pd.DataFrame(np.zeros((5, 3), dtype=np.float32), columns=FEATURES)
    with registry.run("thresholds") as run_id:
        model_id = registry.log_predictor(run_id, predictor, example, {})
    return registry.register(model_id)
