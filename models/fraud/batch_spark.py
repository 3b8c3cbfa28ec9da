"""Batch scoring on Spark: the registered model as `mlflow.pyfunc.spark_udf`.

The model folder is shipped to the executors by MLflow; each executor loads the
pyfunc (the XGBoost booster) once per Python worker and scores Arrow batches. The
decision is a Spark expression over the same thresholds `Thresholds.decide` applies.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from models.fraud.batch import id_columns
from models.fraud.thresholds import Thresholds

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def score_spark(spark: SparkSession, sdf: DataFrame, model_path: str,
                features: list[str], thresholds: Thresholds) -> DataFrame:
    """Ids of each row with its score (pyfunc UDF) and its decision."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    udf = mlflow.pyfunc.spark_udf(spark, model_path, result_type="double",
                                  env_manager="local")
    # spark_udf copies the model through an artifact repository whose thread pool sits
    # in a reference cycle: collect it now so scoring leaves no idle threads behind.
    gc.collect()
    inputs = F.struct(*[F.col(f).cast("float").alias(f) for f in features])
    score = F.col("score")
    decision = (F.when(score >= thresholds.decline, "decline")
                .when(score >= thresholds.review, "review").otherwise("approve"))
    scored = sdf.select(*id_columns(sdf.columns), udf(inputs).alias("score"))
    return scored.withColumn("decision", decision)
