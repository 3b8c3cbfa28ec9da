"""The online face of `fraud-detector@champion` for the serving layer.

`load_champion()` returns an object with `version` and `predict(rows)`: rows are raw
transaction facts (customer_id, terminal_id, card_id, amount_minor, tx_epoch_s); their
features come from the Feast online store through the same `fraud_model_v1`
FeatureService used in training, in the model's feature order. `load_champion.probe()`
names the version the alias points at, so a server can hot-reload when it moves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.fraud.predictor import FraudPredictor
from models.fraud.registry import FraudRegistry
from smartpay.errors import InputError

FEATURE_SERVICE = "fraud_model_v1"
REQUEST_KEYS = ("customer_id", "terminal_id", "amount_minor", "tx_epoch_s")


class OnlineFraudModel:
    """Predictor + Feast online features: raw transactions in, decisions out."""

    def __init__(self, predictor: FraudPredictor, store: Any) -> None:
        self.predictor, self.store = predictor, store
        self.service = store.get_feature_service(FEATURE_SERVICE)
        self.version = str(predictor.version)
        # the decision policy registered with this version, recorded with every payment
        self.thresholds = {"review": predictor.thresholds.review,
                           "decline": predictor.thresholds.decline}

    def _online(self, rows: list[dict]) -> dict[str, list]:
        entity_rows = [{k: r[k] for k in REQUEST_KEYS} for r in rows]
        return self.store.get_online_features(features=self.service,
                                              entity_rows=entity_rows).to_dict()

    def features(self, rows: list[dict]) -> pd.DataFrame:
        """Online feature values of each row (missing history stays NaN)."""
        return pd.DataFrame(self._online(rows))

    def matrix(self, rows: list[dict]) -> np.ndarray:
        """The model input of each row, in the model's feature order, built straight
        from the online values (a DataFrame per call cost more than the scoring)."""
        got = self._online(rows)
        missing = [f for f in self.predictor.features if f not in got]
        if missing:
            raise InputError("features", missing[0],
                             f"a feature of {FEATURE_SERVICE} (the model was trained "
                             f"on {self.predictor.features})")
        cols = [[np.nan if v is None else v for v in got[f]]
                for f in self.predictor.features]
        return np.array(cols, dtype=np.float32).T.copy()

    def predict(self, rows: list[dict]) -> list[dict]:
        """risk_score, decision and top_features for each raw transaction."""
        out = self.predictor.predict_matrix(self.matrix(rows))
        return [{"risk_score": s, "decision": d,
                 "top_features": [{"feature": f, "contribution": c} for f, c in top]}
                for s, d, top in out]


def load_champion(alias: str = "champion", settings=None) -> OnlineFraudModel:
    """`fraud-detector@<alias>` wired to the profile's Feast online store."""
    from features.store import open_store

    predictor = FraudRegistry.from_settings(settings).load_predictor(alias)
    return OnlineFraudModel(predictor, open_store(settings))


def _probe(alias: str = "champion", settings=None) -> str | None:
    """Version currently behind the alias (None if unset); read-only, through a
    registry object of its own, so it is safe from any thread."""
    return FraudRegistry.from_settings(settings).version_for_alias(alias)


load_champion.probe = _probe  # type: ignore[attr-defined]
