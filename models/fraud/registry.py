"""MLflow edges of `fraud-detector`: log a training run, register, move aliases, load.

Local profile: SQLite tracking store and artifacts under the data dir; prod profile:
the tracking server from settings. The model is the XGBoost booster; its feature
order, thresholds, FeatureService and data window travel in the MLmodel metadata, so
loading `fraud-detector@champion` gives everything needed to score and decide.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from models.fraud.predictor import FraudPredictor
from models.fraud.thresholds import Thresholds
from models.registry import MlflowRegistry
from smartpay.errors import SmartPayError
from smartpay.settings import Settings

MODEL_NAME = "fraud-detector"
EXPERIMENT = "fraud-detector"
EVAL_ARTIFACT = "evaluation/test_window.parquet"
PROFILE_ARTIFACT = "evaluation/reference_profile.json"
log = logging.getLogger(__name__)


class RegistryError(SmartPayError):
    """The registry lacks what was asked for (e.g. no champion yet)."""


class FraudRegistry(MlflowRegistry):
    """`fraud-detector` in one tracking store, through this object's own client."""

    model_name = MODEL_NAME
    experiment_name = EXPERIMENT

    def log_predictor(self, run_id: str, predictor: FraudPredictor,
                      example: pd.DataFrame, extra: dict[str, Any]) -> str:
        """Store the booster with signature, input example and metadata; its model id."""
        import mlflow
        import xgboost
        from mlflow.models import infer_signature

        x = example[predictor.features].astype("float32").head(5)
        signature = infer_signature(x, predictor.scores(x))

        def save(path: str, mlflow_model) -> None:
            # Explicit requirements: MLflow would otherwise infer them in a subprocess.
            mlflow.xgboost.save_model(
                predictor.booster, path, mlflow_model=mlflow_model, signature=signature,
                input_example=x, metadata=model_metadata(predictor, extra),
                model_format="ubj",
                pip_requirements=[f"xgboost=={xgboost.__version__}", "pandas", "numpy"])

        return self.log_model(run_id, save)

    def log_frame(self, run_id: str, df: pd.DataFrame, artifact: str) -> None:
        """Store a DataFrame as a parquet artifact of the run."""
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact).name
            df.to_parquet(path, index=False)
            self.client.log_artifact(run_id, str(path), str(Path(artifact).parent))

    def load_predictor(self, ref: str = "champion", n_threads: int = 1) -> FraudPredictor:
        """`fraud-detector@<alias>` (or a version number) as a ready predictor."""
        import mlflow
        from mlflow.models import Model

        version = ref if ref.isdigit() else self.version_for_alias(ref)
        if version is None:
            raise RegistryError(f"{MODEL_NAME}@{ref} does not exist; run `smartpay train "
                                "fraud`")
        folder = str(self.model_folder(version))
        booster = mlflow.xgboost.load_model(folder)
        booster.set_param({"nthread": n_threads})
        meta = Model.load(folder).metadata or {}
        return FraudPredictor(booster, list(meta["features"]),
                              Thresholds(**meta["thresholds"]), int(meta.get("top_n", 3)),
                              version)

    def metadata(self, version: str) -> dict:
        """What travelled with the version's booster (features, thresholds, window)."""
        return self.mlmodel(version).metadata or {}

    def load_frame(self, version: str, artifact: str = EVAL_ARTIFACT) -> pd.DataFrame:
        """A parquet artifact of the run behind a version (e.g. its test window)."""
        return self.read_artifact(version, artifact, pd.read_parquet)

    def load_json(self, version: str, artifact: str) -> dict:
        """A JSON artifact of the run behind a version (e.g. its reference profile)."""
        return self.read_artifact(version, artifact, lambda p: json.loads(p.read_text()))

    def version_tags(self, version: str) -> dict[str, str]:
        """Tags of a model version (provenance, gate decisions)."""
        return dict(self.client.get_model_version(MODEL_NAME, version).tags)

    def record_decision(self, version: str, decision: dict, log_path: Path) -> None:
        """Keep a gate decision: tags on the version and one JSON line in the log file."""
        self.client.set_model_version_tag(MODEL_NAME, version, "gate.promote",
                                          str(decision["promote"]).lower())
        self.client.set_model_version_tag(MODEL_NAME, version, "gate.reasons",
                                          " | ".join(decision["reasons"])[:4900])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a") as fh:
            fh.write(json.dumps({"model": MODEL_NAME, "version": version, **decision})
                     + "\n")
        log.info("gate %s v%s: %s", "PROMOTE" if decision["promote"] else "REFUSE",
                 version, "; ".join(decision["reasons"]))


def connect(settings: Settings | None = None) -> FraudRegistry:
    """The profile's fraud registry with its experiment in place."""
    registry = FraudRegistry.from_settings(settings)
    registry.experiment_id()
    return registry


def model_metadata(predictor: FraudPredictor, extra: dict[str, Any]) -> dict[str, Any]:
    """What travels with the booster: feature order, thresholds, provenance."""
    return {"features": predictor.features, "thresholds": predictor.thresholds.model_dump(),
            "top_n": predictor.top_n, **extra}


def load_predictor(ref: str = "champion", settings: Settings | None = None,
                   n_threads: int = 1) -> FraudPredictor:
    """Load `fraud-detector@<alias>` (or a version number) as a ready predictor."""
    return FraudRegistry.from_settings(settings).load_predictor(ref, n_threads)
