"""MLflow edges of the router: log a trained policy, register `gateway-router`, move the
champion/challenger aliases through the promotion gate, and load a policy back.

Gate: a challenger becomes champion only if the lower end of its doubly-robust 95 %
interval is at least the champion's DR point estimate on the same held-out logs.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import yaml

from models.router.config import WorldConfig, load_config
from models.router.ope import Estimate
from models.router.policy import RouterPolicy
from models.router.stats import FEATURES
from models.router.vw_policy import vw_arguments

MODEL_NAME = "gateway-router"
EXPERIMENT = "gateway-router"


class RouterModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: predict() returns each row's gateway, propensity and ranking."""

    def load_context(self, context) -> None:
        self.policy = policy_from_artifacts(Path(context.artifacts["router"]))

    def predict(self, context, model_input, params=None):
        rows = model_input.to_dict("records")
        out = []
        for row in rows:
            eligible = row.pop("eligible_gateways", None) or self.policy.eligible_for(row)
            d = self.policy.decide(row, list(eligible))
            out.append({"gateway": d.gateway, "probability": d.probability, "ranking": d.ranking})
        return out


def gate(challenger: Estimate, champion_value: float | None) -> bool:
    """Promote iff there is no champion or the challenger's DR lower bound >= its value."""
    return champion_value is None or challenger.lo >= champion_value


def write_artifacts(folder: Path, model_bytes: bytes, cfg: WorldConfig) -> Path:
    """The VW model, the world/router config and the feature spec in one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "router.vw").write_bytes(model_bytes)
    (folder / "config.yaml").write_text(
        yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True), sort_keys=False))
    spec = {"vw_args": vw_arguments(cfg.router), "gateways": cfg.gateway_names,
            "action_features": ["id", "fee", *FEATURES], "feature_service": "routing_v1",
            "exploration": cfg.router.exploration.model_dump(by_alias=True)}
    (folder / "feature_spec.json").write_text(json.dumps(spec, indent=2))
    return folder


def policy_from_artifacts(folder: Path) -> RouterPolicy:
    """A RouterPolicy from a folder written by `write_artifacts`."""
    cfg = WorldConfig.model_validate(yaml.safe_load((folder / "config.yaml").read_text()))
    return RouterPolicy(cfg, (folder / "router.vw").read_bytes())


def log_and_register(model_bytes: bytes, cfg: WorldConfig, params: dict, metrics: dict,
                     tracking_uri: str) -> str:
    """Log a run with the model as a pyfunc and register a new version; returns it."""
    _experiment(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run():
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        folder = write_artifacts(Path(tmp) / "router", model_bytes, cfg)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=RouterModel(), artifacts={"router": str(folder)},
            pip_requirements=["vowpalwabbit", "mlflow"], registered_model_name=MODEL_NAME)
        mlflow.set_tag("run_role", "router-train")
    return str(info.registered_model_version)


def _experiment(tracking_uri: str) -> None:
    """Use the router experiment; with a local SQLite store keep artifacts beside it."""
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if tracking_uri.startswith("sqlite:///"):
            root = Path(tracking_uri.removeprefix("sqlite:///")).parent
            root.mkdir(parents=True, exist_ok=True)
            location = (root / "artifacts").as_uri()
        client.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)


def champion_version(tracking_uri: str | None = None, alias: str = "champion") -> str | None:
    """The version number behind an alias, or None when unset."""
    from smartpay.settings import get_settings

    # A read-only probe (serving calls it from a hot-reload thread): it must not move the
    # process-wide tracking URI under a training run in another thread.
    client = mlflow.MlflowClient(tracking_uri or get_settings().tracking_uri)
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def champion_folder(tracking_uri: str, alias: str = "champion") -> Path | None:
    """Download the aliased version's artifacts, or None if the alias is unset."""
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(MODEL_NAME, alias)
    except mlflow.exceptions.MlflowException:
        return None
    local = mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/{mv.version}")
    return Path(local) / "artifacts" / "router"


def promote(tracking_uri: str, version: str, promoted: bool) -> None:
    """Challenger alias on the new version; champion too when the gate passed."""
    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(MODEL_NAME, "challenger", version)
    if promoted:
        client.set_registered_model_alias(MODEL_NAME, "champion", version)


def load_policy(alias: str | None = "champion", tracking_uri: str | None = None,
                cfg: WorldConfig | None = None) -> RouterPolicy:
    """The aliased registered policy, or a fresh default one if alias is None or unset."""
    if alias is not None:
        from smartpay.settings import get_settings

        folder = champion_folder(tracking_uri or get_settings().tracking_uri, alias)
        if folder is not None:
            return policy_from_artifacts(folder)
    return RouterPolicy(cfg or load_config())


def log_checkpoint(tracking_uri: str, run_id: str, model_bytes: bytes, step: int) -> None:
    """Store an online-updated model under an existing run (serving calls this periodically)."""
    mlflow.set_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"router-{step:08d}.vw"
        path.write_bytes(model_bytes)
        mlflow.MlflowClient().log_artifact(run_id, str(path), artifact_path="checkpoints")
