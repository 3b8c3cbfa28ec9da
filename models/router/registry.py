"""MLflow edges of the router: log a trained policy, register `gateway-router`, move the
champion/challenger aliases through the promotion gate, and load a policy back.

Gate: a challenger becomes champion only if the lower end of its doubly-robust 95 %
interval is at least the DR point estimate of the champion and of the baseline policies
(static rule, sliding-window SR, Thompson) on the same held-out logs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow
import yaml

from models.registry import MlflowRegistry
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


def gate(challenger: Estimate, champion_value: float | None,
         baselines: Mapping[str, float] | None = None) -> bool:
    """Promote iff the challenger's DR lower bound is at least the DR value of the
    champion and of every baseline policy on the same held-out logs (the baselines
    alone when there is no champion yet; nothing to beat: promote)."""
    rivals = [v for v in (champion_value, *(baselines or {}).values()) if v is not None]
    return all(challenger.lo >= v for v in rivals)


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


class RouterRegistry(MlflowRegistry):
    """`gateway-router` in one tracking store, through this object's own client."""

    model_name = MODEL_NAME
    experiment_name = EXPERIMENT

    def log_and_register(self, model_bytes: bytes, cfg: WorldConfig, params: dict,
                         metrics: dict) -> str:
        """Log a run with the model as a pyfunc and register a new version; returns it."""
        with tempfile.TemporaryDirectory() as tmp, self.run() as run_id:
            self.log_batch(run_id, params=params, metrics=metrics)
            folder = write_artifacts(Path(tmp) / "router", model_bytes, cfg)

            def save(path: str, mlflow_model) -> None:
                mlflow.pyfunc.save_model(
                    path, python_model=RouterModel(), artifacts={"router": str(folder)},
                    pip_requirements=["vowpalwabbit", "mlflow"], mlflow_model=mlflow_model)

            model_id = self.log_model(run_id, save)
            version = self.register(model_id)
            self.client.set_tag(run_id, "run_role", "router-train")
        return version

    def champion_folder(self, alias: str = "champion") -> Path | None:
        """The aliased version's router artifacts, or None if the alias is unset."""
        version = self.version_for_alias(alias)
        if version is None:
            return None
        return self.model_folder(version) / "artifacts" / "router"

    def promote(self, version: str, promoted: bool) -> None:
        """Challenger alias on the new version; champion too when the gate passed."""
        self.set_alias("challenger", version)
        if promoted:
            self.set_alias("champion", version)

    def load_policy(self, alias: str | None = "champion",
                    cfg: WorldConfig | None = None) -> RouterPolicy:
        """The aliased registered policy, or a fresh default one if alias is None or
        unset."""
        folder = self.champion_folder(alias) if alias is not None else None
        if folder is not None:
            return policy_from_artifacts(folder)
        return RouterPolicy(cfg or load_config())


def registry_for(tracking_uri: str | None = None) -> RouterRegistry:
    """The router registry at `tracking_uri`, or the profile's."""
    return RouterRegistry(tracking_uri) if tracking_uri else RouterRegistry.from_settings()

