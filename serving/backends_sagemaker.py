"""The fraud scorer backend on a SageMaker endpoint: features from our Feast online
store as for the local champion, scores from the endpoint running the packaged
champion (`smartpay deploy fraud --target sagemaker`), decisions by the thresholds
registered with that version.

Switch the BentoML fraud scorer to it (same service, same port) with
`SMARTPAY_SERVING__FRAUD_BACKEND=serving.backends_sagemaker:sagemaker_fraud`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models.fraud.thresholds import Thresholds
from smartpay.locks import SCHEMA_MIGRATIONS
from smartpay.settings import get_settings


class SageMakerFraudModel:
    """`predict(rows)` through `sagemaker-runtime` invoke_endpoint (CSV in, scores out).

    The endpoint returns scores only: `top_features` stays empty."""

    def __init__(self, matrix: Callable[[list[dict]], np.ndarray], thresholds: Thresholds,
                 version: str, runtime: Any, endpoint: str) -> None:
        self.matrix, self._thresholds = matrix, thresholds
        self.version, self.runtime, self.endpoint = version, runtime, endpoint
        self.thresholds = {"review": thresholds.review, "decline": thresholds.decline}

    def scores(self, rows: list[dict]) -> np.ndarray:
        x = self.matrix(rows)
        body = "\n".join(",".join(repr(float(v)) for v in row) for row in x)
        out = self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=body.encode(),
                                           ContentType="text/csv", Accept="text/csv")
        return np.array(out["Body"].read().decode().split(), dtype=float)

    def predict(self, rows: list[dict]) -> list[dict]:
        """risk_score and decision of each raw transaction."""
        return [{"risk_score": float(s), "decision": self._thresholds.decide(float(s)),
                 "top_features": []} for s in self.scores(rows)]


def runtime_client(settings=None):
    """boto3 `sagemaker-runtime` at the configured runtime URL (AWS when empty)."""
    import boto3

    aws = (settings or get_settings()).aws
    url = aws.sagemaker_runtime_url or aws.endpoint_url or None
    return boto3.session.Session(region_name=aws.region).client("sagemaker-runtime",
                                                                endpoint_url=url)


def sagemaker_fraud() -> SageMakerFraudModel:
    """The environment's champion (features, thresholds) scored on SageMaker."""
    from features.store import open_store
    from models.fraud.registry import FraudRegistry
    from models.fraud.serve import OnlineFraudModel

    settings = get_settings()
    with SCHEMA_MIGRATIONS:
        predictor = FraudRegistry.from_settings(settings).load_predictor(
            settings.release.alias)
    online = OnlineFraudModel(predictor, open_store(settings))
    return SageMakerFraudModel(online.matrix, predictor.thresholds, str(predictor.version),
                               runtime_client(settings), settings.aws.sagemaker_endpoint)


def _version() -> str | None:
    from serving.backends_real import champion_fraud

    return champion_fraud.probe()


sagemaker_fraud.probe = _version  # type: ignore[attr-defined]
