"""Wiring of the fraud pipelines: train, promote, retrain. I/O and MLflow live here.

Training rows come from Feast `get_historical_features` with the `fraud_model_v1`
FeatureService (point-in-time joins); labels are joined by transaction id. Alias moves
happen last, in single registry calls, under an exclusive file lock: a run that fails
or finds the lock taken leaves `champion` and `challenger` as they were.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from models.fraud import behaviour, drift, registry
from models.fraud.dataset import prepare_table
from models.fraud.gate import GateDecision, decide
from models.fraud.metrics import average_precision
from models.fraud.protocol import Columns, Windows
from models.fraud.tracking import log_training_run, predictor_of
from models.fraud.train import Comparison, TrainConfig, compare_models
from pipelines.fraud import nodes
from pipelines.io import read_table
from smartpay.errors import SmartPayError
from smartpay.settings import Settings

FEATURE_SERVICE = "fraud_model_v1"
# Rows of the Spark path's parameter search held in the driver (all of them on the
# reference world's window, about 0.5 M).
SELECTION_ROWS = 2_000_000
log = logging.getLogger(__name__)


class LockBusy(SmartPayError):
    """Another fraud retrain or promotion holds the lock."""


@dataclass
class TableSpec:
    """A bring-your-own table and the roles of its columns."""

    path: Path
    label: str
    time: str
    id: str | None = None
    test_fraction: float = 0.2
    delay: pd.Timedelta = pd.Timedelta(0)
    n_boot: int = 1000


@dataclass
class Outcome:
    """What a train or retrain run did."""

    metrics: dict[str, dict[str, float | None]]
    version: str
    champion: str | None
    decision: GateDecision
    run_id: str
    features: list[str]
    rows: int
    seconds: dict[str, float] = field(default_factory=dict)
    drift: dict | None = None
    predictor: Any = None
    comparison: Comparison | None = None
    report: dict | None = None


def lock_path(settings: Settings) -> Path:
    """The lock file every promotion takes."""
    return settings.path("locks", "fraud-detector.lock")


def decisions_path(settings: Settings) -> Path:
    """One JSON line per gate decision."""
    return settings.path("fraud", "gate_decisions.jsonl")


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on `path`; LockBusy if someone holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(f"{path}: another fraud retrain/promotion is running") from None
        try:
            fh.truncate(0)
            fh.write(str(os.getpid()))
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# Entity rows per point-in-time retrieval: the DuckDB join's peak memory grows with
# the rows asked at once (9.4 GB for 741k), so a long window is fetched in time slices.
RETRIEVAL_CHUNK = 250_000


def feature_frame(settings: Settings, w: Windows, weeks: int = 1,
                  chunk: int = RETRIEVAL_CHUNK) -> tuple[pd.DataFrame, list[str], dict]:
    """Newest protocol window(s) of labelled rows, features from the FeatureService
    (fetched `chunk` entity rows at a time, in time order)."""
    from features.store import open_store
    from pipelines.features.nodes import entity_rows

    tx = read_table(settings.path("raw", "transactions.parquet"))
    win = nodes.protocol_window(tx, w, weeks=weeks)
    tx = nodes.rows_between(tx, win["first_day"], win["end"])
    store = open_store(settings)
    try:
        service = store.get_feature_service(FEATURE_SERVICE)
    except Exception as exc:  # Feast raises its own not-found types
        raise SmartPayError(f"FeatureService {FEATURE_SERVICE} not found ({exc}); run "
                            "`smartpay features build` and `smartpay features apply`") from None
    log.info("fetching %d rows from %s (%s .. %s)", len(tx), FEATURE_SERVICE,
             win["first_day"], win["end"])
    parts = [store.get_historical_features(
        entity_df=entity_rows(tx.iloc[lo:lo + chunk]), features=service).to_df()
        for lo in range(0, len(tx), chunk)]
    feats = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return nodes.join_labels(feats, tx), nodes.service_features(service), win


def _context(win: dict | None, split, test: pd.DataFrame, cols: Columns, source: str
             ) -> dict[str, Any]:
    ctx = {"feature_service": FEATURE_SERVICE if win else "", "source": source,
           **nodes.window_summary(split, test, cols)}
    return ctx


def train_reference(settings: Settings, cfg: TrainConfig, w: Windows = Windows(),
                    tolerance: float = 0.01, run_name: str = "train") -> Outcome:
    """Train on the newest Feast window, register, then gate against the champion."""
    t0 = time.perf_counter()
    df, feats, win = feature_frame(settings, w)
    cols = Columns()
    test, folds = nodes.reference_splits(df, win["train_start"], w, cols)
    t_data = time.perf_counter() - t0
    comp = compare_models(df, feats, cols, test, folds, cfg)
    ctx = {**_context(win, test, comp.test_frame, cols, "feast"), "run_name": run_name}
    return _finish(settings, comp, cfg, cols, ctx, tolerance, {"data": t_data}, t0, len(df))


def train_reference_spark(settings: Settings, cfg: TrainConfig, w: Windows = Windows(),
                          tolerance: float = 0.01, master: str | None = None,
                          run_name: str = "train-spark",
                          selection_rows: int = SELECTION_ROWS) -> Outcome:
    """`train_reference` with the window as a Spark frame (Feast's Spark offline store
    in the `cluster` profile) in the caller's Spark session or one on `master`; the
    tuned XGBoost is fitted by `xgboost.spark` on the training week where it lies. The
    driver holds the parameter search's rows (at most `selection_rows`, a share of the
    cards beyond that) and the test week; selection, thresholds, logging and gate are
    the one-process code."""
    from pyspark import StorageLevel

    from models.fraud.selection import tune_xgb
    from models.fraud.train_spark import compare_on_spark
    from pipelines.fraud import nodes_spark, pipeline_spark
    from smartpay.spark import spark_session_for

    t0, cols = time.perf_counter(), Columns()
    with spark_session_for(master or settings.spark_master, "smartpay-train-fraud",
                           settings.spark.session_conf()) as spark:
        window, feats, win = pipeline_spark.feature_frame(spark, settings, w)
        window = window.persist(StorageLevel.MEMORY_AND_DISK)
        start = win["train_start"]
        try:
            search = pipeline_spark.selection_frame(window, start, w, cols,
                                                    selection_rows, cfg.seed)
            test = pipeline_spark.to_driver(nodes_spark.test_rows(window, start, w, cols))
            train = nodes_spark.train_rows(window, start, w, cols)
            rows, n_train = window.count(), train.count()
            split, folds = nodes.reference_splits(search, start, w, cols)
            t_data = time.perf_counter() - t0
            sel = tune_xgb(search, folds, feats, cols.label, cfg.n_trials, cfg.seed,
                           cfg.xgb_threads, cfg.timeout_s, cols.card)
            comp = compare_on_spark(train, test, search.iloc[split.train], feats, cols,
                                    sel, cfg)
        finally:
            window.unpersist()
    ctx = {**_context(win, split, comp.test_frame, cols, "feast"), "engine": "spark",
           "train_rows": n_train, "run_name": run_name}
    return _finish(settings, comp, cfg, cols, ctx, tolerance, {"data": t_data}, t0, rows)


def train_table(settings: Settings, spec: TableSpec, cfg: TrainConfig,
                tolerance: float = 0.01) -> Outcome:
    """Train on a bring-your-own table with a time-ordered split; same reports, plus
    the test part's positives and the 95 % intervals of every model's metrics."""
    from models.fraud.evaluation import table_report

    t0 = time.perf_counter()
    cols = Columns(time=spec.time, label=spec.label, card=spec.id)
    df, feats = prepare_table(read_table(spec.path), cols)
    test, folds = nodes.table_splits(df, cols, spec.test_fraction, spec.delay)
    comp = compare_models(df, feats, cols, test, folds, cfg)
    report = table_report(comp, cols, spec.n_boot, cfg.top_k)
    report["split"] = nodes.split_summary(df, test, cols, spec.test_fraction, spec.delay)
    ctx = {**_context(None, test, comp.test_frame, cols, f"table:{spec.path}"),
           "run_name": "train-table"}
    out = _finish(settings, comp, cfg, cols, ctx, tolerance, {}, t0, len(df),
                  extra_json={"evaluation/table_report.json": report})
    out.report = report
    return out


def _finish(settings, comp: Comparison, cfg, cols, ctx, tolerance, seconds, t0, rows,
            extra_json=None, drift_report=None, gate: bool = True) -> Outcome:
    """Log, register, then gate and move aliases (under the lock); with `gate=False`
    the new version only becomes the challenger (a pipeline gates it in its own step)."""
    reg = registry.connect(settings)
    with exclusive(lock_path(settings)):
        run_id, model_id = log_training_run(reg, comp, cfg, cols, ctx, extra_json)
        version = reg.register(model_id, {"source": ctx["source"]})
        if gate:
            decision = gate_and_move(settings, reg, version, tolerance)
        else:
            reg.set_alias("challenger", version)
            decision = GateDecision(promote=False, reasons=["registered as challenger; "
                                    "not gated (`smartpay promote fraud` gates it)"],
                                    challenger_ap=None, champion_ap=None,
                                    tolerance=tolerance, checks={})
    seconds = {**seconds, **comp.seconds, "total": time.perf_counter() - t0}
    return Outcome(comp.metrics, version, reg.version_for_alias("champion"),
                   decision, run_id, comp.features, rows, seconds, drift_report,
                   predictor_of(comp), comp)


def evaluate_gate(reg: registry.FraudRegistry, version: str, tolerance: float
                  ) -> GateDecision:
    """Compare `version` with the champion on the version's own test window."""
    challenger = reg.load_predictor(version)
    meta = reg.metadata(version)
    meta_label = meta.get("label", "is_fraud")
    window = reg.load_frame(version)
    y = window[meta_label].to_numpy()
    champ_v = reg.version_for_alias("champion")
    champ_ap, problem = None, None
    if champ_v is not None and champ_v != version:
        champion = reg.load_predictor(champ_v)
        missing = [f for f in champion.features if f not in window.columns]
        if missing:
            problem = f"its features {missing[:3]} are not in the challenger's window"
        else:
            champ_ap = average_precision(y, champion.scores(window))
    sample = behaviour.genuine_sample(window, meta_label)
    ids = (*behaviour.ID_COLUMNS, *([meta["card"]] if meta.get("card") else []))
    checks = behaviour.run_all(challenger.scores, sample, challenger.features, ids)
    return decide(average_precision(y, challenger.scores(window)), champ_ap, checks,
                  tolerance, problem)


def gate_and_move(settings: Settings, reg: registry.FraudRegistry, version: str,
                  tolerance: float) -> GateDecision:
    """Apply the gate, record the decision, then move aliases (caller holds the lock)."""
    decision = evaluate_gate(reg, version, tolerance)
    reg.record_decision(version, decision.model_dump(), decisions_path(settings))
    reg.set_alias("challenger", version)
    if decision.promote:
        reg.set_alias("champion", version)
    return decision


def promote(settings: Settings, tolerance: float = 0.01) -> tuple[str, GateDecision]:
    """Gate the current challenger against the champion; promote if it passes."""
    reg = registry.connect(settings)
    version = reg.version_for_alias("challenger")
    if version is None:
        raise registry.RegistryError("no fraud-detector@challenger; run `smartpay train "
                                     "fraud` first")
    if version == reg.version_for_alias("champion"):
        return version, GateDecision(promote=False, reasons=[f"v{version} is already "
                                     "champion"], challenger_ap=None, champion_ap=None,
                                     tolerance=tolerance, checks={})
    with exclusive(lock_path(settings)):
        return version, gate_and_move(settings, reg, version, tolerance)


def check(settings: Settings, tolerance: float = 0.01) -> tuple[str, GateDecision]:
    """The gate's verdict on the current challenger, moving and recording nothing
    (the evaluate step of a pipeline whose register step then promotes)."""
    reg = registry.connect(settings)
    version = reg.version_for_alias("challenger")
    if version is None:
        raise registry.RegistryError("no fraud-detector@challenger; run `smartpay train "
                                     "fraud` first")
    return version, evaluate_gate(reg, version, tolerance)


def drift_against_champion(reg: registry.FraudRegistry, df: pd.DataFrame
                           ) -> dict | None:
    """PSI per feature and of the champion's scores: newest window vs its training."""
    champ_v = reg.version_for_alias("champion")
    if champ_v is None:
        return None
    champion = reg.load_predictor(champ_v)
    reference = reg.load_json(champ_v, registry.PROFILE_ARTIFACT)
    present = {k: v for k, v in reference.items() if k == "__score__" or k in df.columns}
    return {"champion": champ_v, "rows": len(df),
            "psi": drift.report(present, df, champion.scores(df))}


def retrain(settings: Settings, cfg: TrainConfig, w: Windows = Windows(),
            tolerance: float = 0.01, gate: bool = True) -> Outcome:
    """Newest window -> drift report -> challenger -> gate (unless `gate=False`), all
    under the lock."""
    with exclusive(lock_path(settings).with_suffix(".retrain")):
        t0 = time.perf_counter()
        df, feats, win = feature_frame(settings, w)
        cols = Columns()
        test, folds = nodes.reference_splits(df, win["train_start"], w, cols)
        report = drift_against_champion(registry.connect(settings), df.iloc[test.test])
        comp = compare_models(df, feats, cols, test, folds, cfg)
        ctx = {**_context(win, test, comp.test_frame, cols, "feast"), "run_name": "retrain"}
        extra = {"drift/drift_report.json": report} if report else None
        out = _finish(settings, comp, cfg, cols, ctx, tolerance, {}, t0, len(df), extra,
                      report, gate)
        if report:
            _write_json(settings.path("fraud", "drift", f"v{out.version}.json"), report)
        return out


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


def every(interval_s: float, job: Callable[[], Any], sleep: Callable[[float], None] = time.sleep,
          max_runs: int | None = None, what: str = "fraud retrain") -> int:
    """Run `job` now and then every interval; a failed run is logged, the loop goes on."""
    runs = 0
    while max_runs is None or runs < max_runs:
        try:
            job()
        except Exception:  # one failed run must not end the scheduler
            log.exception("scheduled %s failed; nothing was changed", what)
        runs += 1
        if max_runs is None or runs < max_runs:
            sleep(interval_s)
    return runs
