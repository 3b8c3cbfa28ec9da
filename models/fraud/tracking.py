"""Log one training run to MLflow: params, metrics, window, features, plots, model.

Everything needed later by the gate and the drift report is stored with the run: the
test window (features + labels) and a reference profile of the training data.
"""

from __future__ import annotations

import json
from typing import Any

from models.fraud import drift, plots
from models.fraud.estimators import TUNED
from models.fraud.predictor import FraudPredictor
from models.fraud.protocol import Columns
from models.fraud.registry import EVAL_ARTIFACT, PROFILE_ARTIFACT, FraudRegistry
from models.fraud.train import Comparison, TrainConfig

KEEP_COLUMNS = ("transaction_id", "customer_id", "terminal_id", "card_id")


def predictor_of(comp: Comparison, top_n: int = 3) -> FraudPredictor:
    """The tuned booster wrapped with its features and thresholds."""
    return FraudPredictor(comp.booster, comp.features, comp.thresholds, top_n)


def _params(comp: Comparison, cfg: TrainConfig, context: dict[str, Any]) -> dict:
    best = {f"xgb.{k}": v for k, v in comp.selection.params.items()}
    return {**best, "n_trials": comp.selection.trials, "seed": cfg.seed,
            "review_fp_budget": cfg.budget.review_fp_rate,
            "decline_fp_budget": cfg.budget.decline_fp_rate,
            "n_features": len(comp.features), "train_rows": len(comp.train_frame),
            "test_rows": len(comp.test_frame), **context}


def _metrics(comp: Comparison) -> dict[str, float]:
    out = {f"{m}.{k}": v for m, d in comp.metrics.items() for k, v in d.items()
           if v is not None}
    out["xgboost_tuned.val_ap"] = comp.selection.val_ap
    th = comp.thresholds.model_dump()
    out.update({f"threshold.{k}": float(v) for k, v in th.items()})
    return out


def _log_plots(registry: FraudRegistry, run_id: str, comp: Comparison, cols: Columns,
               curves: dict) -> None:
    y = comp.test_frame[cols.label].to_numpy()
    th = {"review": comp.thresholds.review, "decline": comp.thresholds.decline}
    for fig, name in ((plots.pr_curve(y, curves), "pr_curve.png"),
                      (plots.roc(y, curves), "roc_curve.png"),
                      (plots.importance(comp.booster), "feature_importance.png"),
                      (plots.score_by_class(y, comp.test_scores, th),
                       "score_distribution.png")):
        registry.client.log_figure(run_id, fig, f"plots/{name}")
        plots.close(fig)


def log_training_run(
    registry: FraudRegistry, comp: Comparison, cfg: TrainConfig, cols: Columns,
    context: dict[str, Any], extra_json: dict[str, dict] | None = None,
) -> tuple[str, str]:
    """Log a finished comparison in a new MLflow run; returns (run_id, model_id)."""
    predictor = predictor_of(comp)
    with registry.run(run_name=context.get("run_name", "train")) as run_id:
        registry.log_batch(
            run_id, params=_params(comp, cfg, {k: v for k, v in context.items()
                                               if k != "run_name"}),
            metrics=_metrics(comp),
            tags={"feature_service": context.get("feature_service", ""),
                  "features": ",".join(comp.features)[:4900]})
        _log_evaluation(registry, run_id, comp, cols, extra_json)
        meta = {"feature_service": context.get("feature_service"),
                "label": cols.label, "time": cols.time, "card": cols.card,
                "window": {k: v for k, v in context.items() if k.startswith("window.")},
                "test_metrics": comp.metrics[TUNED]}
        model_id = registry.log_predictor(run_id, predictor, comp.train_frame,
                                          json.loads(json.dumps(meta, default=str)))
    return run_id, model_id


def _log_evaluation(registry: FraudRegistry, run_id: str, comp: Comparison, cols: Columns,
                    extra_json: dict[str, dict] | None) -> None:
    """Everything the gate and the drift report read back later, plus the plots."""
    log_dict = registry.client.log_dict
    keep = [c for c in (*KEEP_COLUMNS, cols.time, cols.label, cols.card)
            if c and c in comp.test_frame.columns]
    test = comp.test_frame[list(dict.fromkeys(keep + comp.features))]
    train_scores = predictor_of(comp).scores(comp.train_frame)
    log_dict(run_id, {"features": comp.features}, "features.json")
    log_dict(run_id, {"metrics": comp.metrics, "seconds": comp.seconds}, "comparison.json")
    log_dict(run_id, {"trials": comp.selection.history}, "selection/trials.json")
    for name, payload in (extra_json or {}).items():
        log_dict(run_id, payload, name)
    log_dict(run_id, drift.profile(comp.train_frame, comp.features, train_scores),
             PROFILE_ARTIFACT)
    registry.log_frame(run_id, test, EVAL_ARTIFACT)
    _log_plots(registry, run_id, comp, cols, comp.all_scores)
