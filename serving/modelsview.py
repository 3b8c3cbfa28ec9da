"""What the models page shows: champion and challenger of `fraud-detector` and
`gateway-router` with their run metrics, gate verdicts and score drift, and links into
the MLflow UI. Blocking MLflow reads: call `read_models` off the event loop.

Gate verdicts: the fraud gate tags each version it judged (`gate.promote`,
`gate.reasons`); the router's gate leaves no tag, so a router version's verdict is
whether the champion alias points at it. Drift: PSI of the risk scores served in the
window against the fraud champion's training scores (its reference profile), when that
profile was logged with the run and enough payments were scored.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel

MIN_DRIFT_SCORES = 20  # fewer served scores say nothing about a distribution
MAX_METRICS = 16
TUNED = "xgboost_tuned."  # the fraud run's served model; its baselines are logged too


class Drift(BaseModel):
    psi: float
    status: str  # stable (< 0.1) | moderate (< 0.25) | shift
    scores: int  # served scores compared


class VersionView(BaseModel):
    version: str
    aliases: list[str]
    run_id: str | None
    created_at: datetime | None
    metrics: dict[str, float]
    gate: str  # promoted | refused | not judged
    gate_reasons: list[str]
    drift: Drift | None
    drift_note: str | None  # why there is no drift figure
    mlflow_url: str


class ModelView(BaseModel):
    name: str
    champion: VersionView | None
    challenger: VersionView | None
    mlflow_url: str


class ModelsView(BaseModel):
    """GET /admin/models."""

    mlflow_ui_url: str
    models: list[ModelView]


def read_models(tracking_uri: str, ui_url: str,
                served_scores: list[float]) -> ModelsView:
    """Both registries' aliased versions (blocking: MLflow calls)."""
    from models.fraud.registry import FraudRegistry
    from models.router.registry import RouterRegistry

    ui = ui_url.rstrip("/")
    views = [_model(FraudRegistry(tracking_uri), ui, served_scores),
             _model(RouterRegistry(tracking_uri), ui, None)]
    return ModelsView(mlflow_ui_url=ui, models=views)


def _model(registry, ui: str, served_scores: list[float] | None) -> ModelView:
    champion = registry.version_for_alias("champion")
    challenger = registry.version_for_alias("challenger")
    aliases = {"champion": champion, "challenger": challenger}

    def view(version: str | None) -> VersionView | None:
        if version is None:
            return None
        return _version(registry, version, ui, champion,
                        [a for a, v in aliases.items() if v == version],
                        served_scores if version == champion else None)

    return ModelView(name=registry.model_name, champion=view(champion),
                     challenger=view(challenger),
                     mlflow_url=f"{ui}/#/models/{registry.model_name}")


def _version(registry, version: str, ui: str, champion: str | None, aliases: list[str],
             served_scores: list[float] | None) -> VersionView:
    mv = registry.client.get_model_version(registry.model_name, version)
    run = registry.client.get_run(mv.run_id) if mv.run_id else None
    metrics = _metrics(run.data.metrics) if run is not None else {}
    gate, reasons = _gate(dict(mv.tags), version == champion, registry.model_name)
    drift, note = _drift(registry, version, served_scores)
    return VersionView(
        version=version, aliases=aliases, run_id=mv.run_id,
        created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, timezone.utc),
        metrics=metrics, gate=gate, gate_reasons=reasons, drift=drift, drift_note=note,
        mlflow_url=f"{ui}/#/models/{registry.model_name}/versions/{version}")


def _metrics(metrics: dict[str, float]) -> dict[str, float]:
    tuned = {k: v for k, v in metrics.items() if k.startswith((TUNED, "threshold."))}
    chosen = tuned or metrics
    return {k: round(float(chosen[k]), 4) for k in sorted(chosen)[:MAX_METRICS]}


def _gate(tags: dict[str, str], is_champion: bool, name: str) -> tuple[str, list[str]]:
    if "gate.promote" in tags:
        reasons = [r for r in tags.get("gate.reasons", "").split(" | ") if r]
        return ("promoted" if tags["gate.promote"] == "true" else "refused"), reasons
    if name == "gateway-router":
        return ("promoted" if is_champion else "refused"), [
            "champion: the challenger's DR lower bound reached the old champion's value"
            if is_champion else "its DR lower bound stayed below the champion's value"]
    return "not judged", []


def _drift(registry, version: str,
           scores: list[float] | None) -> tuple[Drift | None, str | None]:
    if scores is None:
        return None, None
    from mlflow.exceptions import MlflowException

    from models.fraud import drift
    from models.fraud.registry import PROFILE_ARTIFACT

    if len(scores) < MIN_DRIFT_SCORES:
        return None, (f"{len(scores)} scores served in the window "
                      f"(need {MIN_DRIFT_SCORES})")
    try:
        ref = registry.load_json(version, PROFILE_ARTIFACT)["__score__"]
    except (OSError, KeyError, ValueError, MlflowException):
        return None, "this version was logged without a reference profile"
    value = drift.psi(ref["shares"], drift.shares(scores, ref["edges"]))
    return Drift(psi=round(value, 4), status=drift.status(value),
                 scores=len(scores)), None
