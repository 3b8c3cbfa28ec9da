"""`smartpay score fraud`: a parquet table scored by a registered version (I/O here).

pandas reads the table into this process and scores it with the loaded predictor;
spark reads it on the cluster and scores it with `mlflow.pyfunc.spark_udf`, so the
table never has to fit in the driver. Both write ids, score and decision as parquet.
"""

from __future__ import annotations

import logging
from pathlib import Path

from models.fraud import registry
from models.fraud.batch import score_frame, thresholds_of
from pipelines.io import read_table, write_parquet_atomic
from smartpay.errors import InputError
from smartpay.settings import Settings

log = logging.getLogger(__name__)


def _version(reg: registry.FraudRegistry, ref: str) -> str:
    version = ref if ref.isdigit() else reg.version_for_alias(ref)
    if version is None:
        raise registry.RegistryError(f"{registry.MODEL_NAME}@{ref} does not exist; run "
                                     "`smartpay train fraud`")
    return version


def score_table(settings: Settings, table: Path, out: Path, engine: str = "pandas",
                ref: str = "champion", master: str | None = None) -> dict:
    """Score every row of `table` with `fraud-detector@ref`; write `out`; a summary.
    Spark runs in the caller's session if it has one, else in one on `master`."""
    if not Path(table).exists():
        raise InputError("--table", str(table), "an existing parquet file or folder")
    reg = registry.FraudRegistry.from_settings(settings)
    version = _version(reg, ref)
    if engine == "pandas":
        rows = _score_pandas(reg, version, Path(table), Path(out))
    else:
        from smartpay.spark import spark_session_for

        with spark_session_for(master or settings.spark_master, "smartpay-score-fraud",
                               settings.spark.session_conf()) as spark:
            rows = _score_spark(spark, reg, version, Path(table), Path(out))
    log.info("scored %d rows with %s v%s on %s -> %s", rows, registry.MODEL_NAME,
             version, engine, out)
    return {"version": version, "rows": rows, "engine": engine, "out": str(out)}


def _score_pandas(reg: registry.FraudRegistry, version: str, table: Path, out: Path
                  ) -> int:
    result = score_frame(read_table(table), reg.load_predictor(version))
    write_parquet_atomic(result, out)
    return len(result)


def _score_spark(spark, reg: registry.FraudRegistry, version: str, table: Path,
                 out: Path) -> int:
    from models.fraud.batch_spark import score_spark

    meta = reg.metadata(version)
    features = list(meta["features"])
    sdf = spark.read.parquet(str(table))
    missing = [f for f in features if f not in sdf.columns]
    if missing:
        raise InputError("--table", str(table), f"columns {features} (missing {missing})")
    scored = score_spark(spark, sdf, str(reg.model_folder(version)), features,
                         thresholds_of(meta))
    scored.write.mode("overwrite").parquet(str(out))
    return spark.read.parquet(str(out)).count()
