"""The tuned XGBoost refitted on Spark (`xgboost.spark`), beside the one-process fit.

Same parameters as `estimators.fit_xgb` (the selection's, plus `XGB_FIXED`), so the
two engines train the same model definition; only the fit is spread over `num_workers`
Spark tasks, each holding one partition of the training rows. The result is a plain
`xgb.Booster` with the feature names of the training columns: everything downstream
(thresholds, logging, registry, serving) is the single-machine code.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
import xgboost as xgb

from models.fraud.estimators import TUNED, XGB_FIXED, matrix, score_booster
from models.fraud.protocol import Columns
from models.fraud.selection import Selection
from models.fraud.thresholds import choose_thresholds
from models.fraud.train import Comparison, TrainConfig, _metrics_on

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)
NUM_WORKERS = 2


def spark_params(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The selection's parameters as `SparkXGBClassifier` keywords (sklearn names).

    The objective is the classifier's own (binary:logistic); the evaluation metric
    only prints (no early stopping here); threads come from `spark.task.cpus`."""
    fixed = {k: v for k, v in XGB_FIXED.items() if k not in ("objective", "eval_metric")}
    return {**fixed, **params, "random_state": seed}


def training_frame(sdf: DataFrame, features: list[str], label: str) -> DataFrame:
    """The feature columns (float32) and the label (int) of a Spark window, nothing
    else: the rows stay on the executors."""
    from pyspark.sql import functions as F

    return sdf.select(*[F.col(f).cast("float") for f in features],
                      F.col(label).cast("int"))


def fit_xgb_spark(sdf: DataFrame, features: list[str], label: str,
                  params: dict[str, Any], seed: int = 0,
                  num_workers: int = NUM_WORKERS) -> xgb.Booster:
    """Train the booster on a Spark DataFrame with `num_workers` XGBoost workers."""
    from xgboost.spark import SparkXGBClassifier

    est = SparkXGBClassifier(features_col=list(features), label_col=label,
                             num_workers=num_workers, **spark_params(params, seed))
    booster = est.fit(sdf).get_booster()
    booster.feature_names = list(features)  # the order `FraudPredictor` feeds
    return booster


def compare_on_spark(
    train: DataFrame, test: pd.DataFrame, example: pd.DataFrame, features: list[str],
    cols: Columns, sel: Selection, cfg: TrainConfig, num_workers: int = NUM_WORKERS,
) -> Comparison:
    """The selection's XGBoost fitted on Spark over the training rows `train` (a Spark
    frame, never collected) and scored on the test week `test`; thresholds from the
    selection's validation scores. `example` (training rows in the driver, all of them
    or a sample) stands for the training frame in logging: input example and the
    drift profile."""
    t0 = time.perf_counter()
    sdf = training_frame(train, features, cols.label)
    booster = fit_xgb_spark(sdf, features, cols.label, sel.params, cfg.seed, num_workers)
    scores = score_booster(booster, matrix(test, features))
    metrics = {TUNED: _metrics_on(test, scores, cols, cfg.top_k)}
    seconds = {TUNED: time.perf_counter() - t0}
    log.info("%s on spark (%d workers): %s in %.1f s", TUNED, num_workers,
             metrics[TUNED], seconds[TUNED])
    thresholds = choose_thresholds(sel.val_labels, sel.val_scores, cfg.budget)
    return Comparison(metrics, booster, sel, thresholds, features, test, scores, example,
                      seconds, {TUNED: scores})
