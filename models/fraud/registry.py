"""MLflow edges: log a training run, register `fraud-detector`, move aliases, load.

Local profile: SQLite tracking store and artifacts under the data dir; prod profile:
the tracking server from settings. The model is the XGBoost booster; its feature
order, thresholds, FeatureService and data window travel in the MLmodel metadata, so
loading `fraud-detector@champion` gives everything needed to score and decide.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from models.fraud.predictor import FraudPredictor
from models.fraud.thresholds import Thresholds
from smartpay.errors import SmartPayError
from smartpay.settings import Settings, get_settings

MODEL_NAME = "fraud-detector"
EXPERIMENT = "fraud-detector"
EVAL_ARTIFACT = "evaluation/test_window.parquet"
PROFILE_ARTIFACT = "evaluation/reference_profile.json"
log = logging.getLogger(__name__)


class RegistryError(SmartPayError):
    """The registry lacks what was asked for (e.g. no champion yet)."""


def connect(settings: Settings | None = None):
    """Point MLflow at the profile's store; ensure the experiment exists; a client."""
    import mlflow
    from mlflow import MlflowClient

    settings = settings or get_settings()
    if not settings.mlflow_tracking_uri:
        settings.path("mlflow").mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = MlflowClient(settings.tracking_uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if not settings.mlflow_tracking_uri:
            location = settings.path("mlflow", "artifacts").as_uri()
        client.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    return client


def model_metadata(predictor: FraudPredictor, extra: dict[str, Any]) -> dict[str, Any]:
    """What travels with the booster: feature order, thresholds, provenance."""
    return {"features": predictor.features, "thresholds": predictor.thresholds.model_dump(),
            "top_n": predictor.top_n, **extra}


def log_model(predictor: FraudPredictor, example: pd.DataFrame, extra: dict[str, Any]):
    """Log the booster with signature, input example and metadata in the active run."""
    import mlflow
    from mlflow.models import infer_signature

    import xgboost

    x = example[predictor.features].astype("float32").head(5)
    signature = infer_signature(x, predictor.scores(x))
    # Explicit requirements: MLflow would otherwise infer them in a subprocess (slow).
    return mlflow.xgboost.log_model(
        predictor.booster, name="model", signature=signature, input_example=x,
        metadata=model_metadata(predictor, extra), model_format="ubj",
        pip_requirements=[f"xgboost=={xgboost.__version__}", "pandas", "numpy"])


def log_frame(df: pd.DataFrame, artifact: str) -> None:
    """Store a DataFrame as a parquet artifact of the active run."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact).name
        df.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(artifact).parent))


def register(model_uri: str, tags: dict[str, str] | None = None) -> str:
    """Register a logged model as a new version of `fraud-detector`; its version."""
    import mlflow

    mv = mlflow.register_model(model_uri, MODEL_NAME, tags=tags)
    return str(mv.version)


def version_for_alias(client, alias: str) -> str | None:
    """The version behind `alias`, or None if the alias (or the model) is unset."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def set_alias(client, alias: str, version: str) -> None:
    """Point `alias` at `version` (one registry call: all or nothing)."""
    client.set_registered_model_alias(MODEL_NAME, alias, version)


def load_predictor(ref: str = "champion", settings: Settings | None = None,
                   n_threads: int = 1) -> FraudPredictor:
    """Load `fraud-detector@<alias>` (or a version number) as a ready predictor."""
    import mlflow

    client = connect(settings)
    version = ref if ref.isdigit() else version_for_alias(client, ref)
    if version is None:
        raise RegistryError(f"{MODEL_NAME}@{ref} does not exist; run `smartpay train fraud`")
    uri = f"models:/{MODEL_NAME}/{version}"
    booster = mlflow.xgboost.load_model(uri)
    booster.set_param({"nthread": n_threads})
    meta = mlflow.models.get_model_info(uri).metadata or {}
    return FraudPredictor(booster, list(meta["features"]),
                          Thresholds(**meta["thresholds"]), int(meta.get("top_n", 3)),
                          version)


def run_of(client, version: str) -> str:
    """The MLflow run that produced a model version."""
    return client.get_model_version(MODEL_NAME, version).run_id


def load_frame(client, version: str, artifact: str = EVAL_ARTIFACT) -> pd.DataFrame:
    """A parquet artifact of the run behind a version (e.g. its test window)."""
    import mlflow

    path = mlflow.artifacts.download_artifacts(run_id=run_of(client, version),
                                               artifact_path=artifact)
    return pd.read_parquet(path)


def load_json(client, version: str, artifact: str) -> dict:
    """A JSON artifact of the run behind a version (e.g. its reference profile)."""
    import mlflow

    return mlflow.artifacts.load_dict(
        f"{client.get_run(run_of(client, version)).info.artifact_uri}/{artifact}")


def version_tags(client, version: str) -> dict[str, str]:
    """Tags of a model version (provenance, gate decisions)."""
    return dict(client.get_model_version(MODEL_NAME, version).tags)


def record_decision(client, version: str, decision: dict, log_path: Path) -> None:
    """Keep a gate decision: tags on the version and one JSON line in the log file."""
    client.set_model_version_tag(MODEL_NAME, version, "gate.promote",
                                 str(decision["promote"]).lower())
    client.set_model_version_tag(MODEL_NAME, version, "gate.reasons",
                                 " | ".join(decision["reasons"])[:4900])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as fh:
        fh.write(json.dumps({"model": MODEL_NAME, "version": version, **decision}) + "\n")
    log.info("gate %s v%s: %s", "PROMOTE" if decision["promote"] else "REFUSE", version,
             "; ".join(decision["reasons"]))
