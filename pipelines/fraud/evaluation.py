"""Wiring of `smartpay evaluate fraud`: one simulated world per seed, Feast features for
the test weeks and their tuning folds, the multi-week comparison, MLflow logging.

Each world is a local-profile data dir under `<data>/fraud/evaluation/`, named by its
seed and size (raw transactions, offline feature tables, Feast registry), built once
and reused: the simulator is deterministic per seed, so a rebuilt world is the same.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from models.fraud.protocol import Columns, Windows
from models.fraud.train import TrainConfig
from models.registry import MlflowRegistry
from pipelines.fraud.issuer_reports import IssuerReports
from pipelines.simulate.pipeline import SimulationParams
from smartpay.settings import Settings

log = logging.getLogger(__name__)


def world_dir(settings: Settings, params: SimulationParams) -> Path:
    """Data dir of the evaluation world simulated with `params`."""
    p = params
    name = f"seed-{p.seed}-{p.customers}c-{p.terminals}t-{p.days}d"
    return settings.path("fraud", "evaluation", name)


def ensure_world(settings: Settings, seed: int, sim_kwargs: dict | None = None) -> Settings:
    """Simulate the seed's world and build + apply its features unless already done;
    its settings: its own data dir, local profile (file stores)."""
    from pipelines.features import pipeline as features
    from pipelines.simulate.pipeline import run

    params = SimulationParams(seed=seed, **(sim_kwargs or {}))
    ws = Settings(data_dir=world_dir(settings, params), profile="local")
    raw = ws.path("raw", "transactions.parquet")
    done = ws.path("feast", "READY")
    if done.exists():
        return ws
    t0 = time.perf_counter()
    if not raw.exists():
        run(params, raw)
    features.build(ws, raw, validate=False)
    features.apply(ws)
    done.write_text(pd.Timestamp.now(tz="UTC").isoformat())
    log.info("world seed %d built in %.0f s", seed, time.perf_counter() - t0)
    return ws


class EvaluationLog(MlflowRegistry):
    """The `fraud-evaluation` experiment of the profile's tracking store (no model)."""

    model_name = "fraud-detector"
    experiment_name = "fraud-evaluation"


@dataclass
class EvaluationSpec:
    """What `smartpay evaluate fraud` runs."""

    seeds: list[int]
    weeks: int = 4
    n_boot: int = 1000
    cfg: TrainConfig = field(default_factory=TrainConfig)
    windows: Windows = field(default_factory=Windows)
    sim_kwargs: dict = field(default_factory=dict)
    early_outcomes: bool = False
    issuer: IssuerReports = field(default_factory=IssuerReports)


HANDBOOK_MODEL = "xgboost_handbook_features"
VERDICT_MODEL = "xgboost_tuned_review_verdicts"
ISSUER_MODEL = "xgboost_tuned_issuer_reports"
EARLY_MODEL = "xgboost_tuned_early_outcomes"
EARLY_MODELS = (VERDICT_MODEL, ISSUER_MODEL, EARLY_MODEL)
WARM_UP_WEEKS = 4  # weeks before the oldest fold: deployed models, outcome streams


def variants(feats: list[str], early: bool) -> dict[str, list[str]]:
    """The tuned XGBoost's variants: the handbook's features (always) and, with
    early outcomes, ours plus review verdicts, issuer reports, or both."""
    from pipelines.fraud.early_outcomes import EARLY_FEATURES
    from pipelines.fraud.handbook import HANDBOOK_FEATURES
    from pipelines.fraud.issuer_reports import ISSUER_FEATURES

    out = {HANDBOOK_MODEL: list(HANDBOOK_FEATURES)}
    if early:
        out.update({VERDICT_MODEL: feats + EARLY_FEATURES,
                    ISSUER_MODEL: feats + ISSUER_FEATURES,
                    EARLY_MODEL: feats + EARLY_FEATURES + ISSUER_FEATURES})
    return out


def world_frame(ws: Settings, spec: EvaluationSpec, seed: int
                ) -> tuple[pd.DataFrame, list[str]]:
    """One world's labelled feature rows, blind-spot flags, handbook features and
    (with early outcomes) the review-verdict and issuer-report features."""
    from pipelines.fraud.early_outcomes import add_early_outcomes
    from pipelines.fraud.handbook import add_handbook_features
    from pipelines.fraud.issuer_reports import add_issuer_reports
    from pipelines.fraud.pipeline import feature_frame

    extra = WARM_UP_WEEKS if spec.early_outcomes else 0
    df, feats, _ = feature_frame(ws, spec.windows, weeks=spec.weeks + extra)
    df = add_handbook_features(with_blind_spot(ws, df))
    if spec.early_outcomes:
        df = add_early_outcomes(df, feats, seed=seed)
        df = add_issuer_reports(df, spec.issuer, seed)
    return df, feats


def evaluate(settings: Settings, spec: EvaluationSpec) -> dict:
    """Every model over `weeks` test weeks of each seed's world, with card intervals."""
    from models.fraud.evaluation import evaluate_weeks, number_cards, summarise

    t0 = time.perf_counter()
    results = []
    for i, seed in enumerate(spec.seeds):
        ws = ensure_world(settings, seed, spec.sim_kwargs)
        df, feats = world_frame(ws, spec, seed)
        cfg = spec.cfg.model_copy(update={"seed": seed})
        weeks = evaluate_weeks(df, feats, Columns(), spec.windows, spec.weeks, cfg,
                               world=f"seed {seed} ", blind_col=BLIND,
                               variants=variants(feats, spec.early_outcomes))
        del df
        number_cards(weeks, i)
        results += weeks
        log.info("seed %d done at %.0f s", seed, time.perf_counter() - t0)
    report = summarise(results, spec.n_boot, seed=0, k=spec.cfg.top_k,
                       challengers=EARLY_MODELS)
    report.update({"seeds": spec.seeds, "test_weeks": spec.weeks,
                   "early_outcomes": spec.early_outcomes,
                   "issuer_reports": spec.issuer.model_dump() if spec.early_outcomes
                   else None,
                   "n_trials": spec.cfg.n_trials, "features": feats,
                   "variants": variants(feats, spec.early_outcomes),
                   "seconds": round(time.perf_counter() - t0, 1)})
    report["run_id"] = log_evaluation(settings, report)
    return report


BLIND = "terminal_first_week"


def with_blind_spot(ws: Settings, df: pd.DataFrame) -> pd.DataFrame:
    """Flag (column BLIND, not a feature) frauds in a compromised terminal's first week."""
    from pipelines.fraud.nodes import terminal_first_week
    from pipelines.io import read_table

    tx = read_table(ws.path("raw", "transactions.parquet"),
                    ["transaction_id", "timestamp", "terminal_id", "fraud_scenario"])
    flags = pd.Series(terminal_first_week(tx).to_numpy(), index=tx["transaction_id"])
    return df.assign(**{BLIND: df["transaction_id"].map(flags).fillna(False).astype(bool)})


def _flat_metrics(report: dict) -> dict[str, float]:
    """Pooled values, bounds and paired differences as MLflow metric names."""
    out = {}
    pooled = report["pooled"]
    for group in ("models", "paired"):
        for name, per_metric in pooled[group].items():
            for metric, stat in per_metric.items():
                for key in ("value", "lo", "hi"):
                    if stat[key] is not None:
                        out[f"pooled.{name}.{metric}.{key}"] = stat[key]
                if "win" in stat:
                    out[f"pooled.{name}.{metric}.win"] = float(stat["win"])
    for model, spot in (pooled.get("blind_spot") or {}).items():
        for key in ("recall_first_week", "recall_other"):
            if spot and spot.get(key) is not None:
                out[f"pooled.blind_spot.{model}.{key}"] = spot[key]
    for pair, stats in (pooled.get("blind_spot_paired") or {}).items():
        for key, stat in stats.items():
            if stat["value"] is not None:
                out[f"pooled.blind_spot.{pair}.{key}"] = stat["value"]
    return out


def log_evaluation(settings: Settings, report: dict) -> str:
    """One run of the `fraud-evaluation` experiment: pooled figures, full report."""
    book = EvaluationLog(settings.tracking_uri)
    wins = [f"{name}:{metric}" for name, per in report["pooled"]["paired"].items()
            for metric, stat in per.items() if stat["win"]]
    with book.run(run_name="evaluate-fraud") as run_id:
        book.log_batch(run_id, params={
            "seeds": ",".join(map(str, report["seeds"])),
            "test_weeks": report["test_weeks"],
            "n_boot": report["n_boot"], "n_trials": report["n_trials"],
            "resampled_by": report["resampled_by"],
            "early_outcomes": report["early_outcomes"],
            **{f"issuer_{k}": v for k, v in (report["issuer_reports"] or {}).items()}},
            metrics=_flat_metrics(report),
            tags={"wins": ",".join(wins) or "none"})
        book.client.log_dict(run_id, report, "evaluation/report.json")
    return run_id
