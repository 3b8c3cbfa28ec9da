"""Floor services of the load test: what BentoML alone answers on this box.

    bentoml serve benchmarks.floor_services:ConstantFloor --port 3001
    SMARTPAY_FLOOR_MODEL=tiny bentoml serve benchmarks.floor_services:XGBoostFloor

`ConstantFloor` answers a constant: the framework's own cost per request.
`XGBoostFloor` scores one feature vector with the booster of the fraud model the API
serves (`champion`: `fraud-detector@<release alias>` from the registry; `tiny`: the
request-feature test booster of `tests.serving.backends`) and returns the probability
only: no Feast lookup, no contributions, no decision. Both are configured like the
API's model services (one worker, no access log, no tracing of the scoring route,
JSON media type named up front), so the ratio of an API figure to theirs is the share
of the framework's ceiling the product keeps.
"""

from __future__ import annotations

import os

import bentoml
import numpy as np

MODEL_ENV = "SMARTPAY_FLOOR_MODEL"
_CONFIG = dict(workers=1, logging={"access": {"enabled": False}},
               tracing={"excluded_urls": ["/score", "/model", "/metrics", "/readyz",
                                          "/livez"]},
               traffic={"timeout": 30, "concurrency": 512})


def load_model(which: str) -> tuple[object, list[str], str]:
    """(booster, feature names, version) of the fraud model named by `which`."""
    if which == "champion":
        from models.fraud.registry import FraudRegistry
        from smartpay.settings import get_settings

        settings = get_settings()
        predictor = FraudRegistry.from_settings(settings).load_predictor(
            settings.release.alias)
        return (predictor.booster, list(predictor.features),
                f"fraud-detector/{predictor.version}")
    if which == "tiny":
        from tests.serving.backends import FEATURES, _booster

        return _booster(), list(FEATURES), "tiny-test"
    raise ValueError(f"{MODEL_ENV} must be 'champion' or 'tiny', not {which!r}")


@bentoml.service(name="floor_constant", **_CONFIG)
class ConstantFloor:
    """Answers 0.5 to any feature vector."""

    @bentoml.api
    async def score(self, features: list[float]) -> float:
        return 0.5


@bentoml.service(name="floor_xgboost", **_CONFIG)
class XGBoostFloor:
    """The API's fraud booster, one vector in, one probability out."""

    def __init__(self) -> None:
        self.booster, self.features, self.version = load_model(
            os.environ.get(MODEL_ENV, "tiny"))

    @bentoml.api
    async def score(self, features: list[float]) -> float:
        x = np.asarray([features], dtype=np.float32)
        return float(self.booster.inplace_predict(x, validate_features=False)[0])

    @bentoml.api
    async def model(self) -> dict:
        """The model's version and feature names (the load generator sizes its
        vectors by them)."""
        return {"version": self.version, "features": self.features}


for _service in (ConstantFloor, XGBoostFloor):
    for _method in _service.apis.values():
        if not _method.output_spec.media_type:
            _method.output_spec.media_type = "application/json"
