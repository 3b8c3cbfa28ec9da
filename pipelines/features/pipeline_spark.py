"""`features build` on Spark: read the raw table, compute with `nodes_spark`, write the
same offline tables (folders of parquet files) that the pandas build writes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from features.store import tables_dir
from pipelines.features import nodes_spark
from pipelines.io import check_writable, replace_path
from smartpay.errors import DataFileError, ValidationFailed
from smartpay.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Rows per table the feature suites check on the Spark engine (a uniform sample: the
# tables may not fit in the driver's memory).
VALIDATION_SAMPLE_ROWS = 200_000


def compute_tables(tx: DataFrame) -> dict[str, DataFrame]:
    """All offline feature tables from raw transactions (lazy Spark plans)."""
    return {
        "customer_spending": nodes_spark.customer_spending(tx),
        "terminal_risk": nodes_spark.terminal_risk(tx),
        "card_profile": nodes_spark.card_profile(tx),
    }


def read_raw(spark: SparkSession, raw_path: Path, columns: list[str]) -> DataFrame:
    """The raw transactions (a parquet file or a folder of day partitions)."""
    if not Path(raw_path).exists() and "://" not in str(raw_path):
        raise DataFileError(Path(raw_path), "does not exist")
    return spark.read.parquet(str(raw_path)).select(*columns)


def build(spark: SparkSession, settings: Settings, raw_path: Path, columns: list[str],
          validate: bool = True):
    """Compute and write every table beside its final path, check a sample of each,
    then move them all in place; on any failure nothing is replaced."""
    from pipelines.features.pipeline import BuildResult

    tables = compute_tables(read_raw(spark, raw_path, columns))
    folder = tables_dir(settings)
    result, staged = BuildResult(), []
    try:
        for name, df in tables.items():
            final = folder / f"{name}.parquet"
            tmp = final.with_suffix(".parquet.tmp")
            check_writable(tmp)
            df.write.mode("overwrite").parquet(str(tmp))
            staged.append((tmp, final))
            result.paths[name] = final
        written = {name: spark.read.parquet(str(tmp))
                   for name, (tmp, _) in zip(tables, staged)}
        result.rows = {name: df.count() for name, df in written.items()}
        if validate:
            _validate_sample(written, result.rows, settings)
        for tmp, final in staged:
            replace_path(tmp, final)
    finally:
        for tmp, _ in staged:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _validate_sample(tables: dict[str, DataFrame], rows: dict[str, int],
                     settings: Settings) -> None:
    """The feature suites on a uniform sample of each written table."""
    from pipelines.validate.pipeline import validate_feature_tables

    sample = {}
    for name, df in tables.items():
        fraction = min(1.0, VALIDATION_SAMPLE_ROWS / rows[name]) if rows[name] else 1.0
        sample[name] = df.sample(fraction=fraction, seed=0).toPandas()
    bad = [r for r in validate_feature_tables(sample, settings) if not r.success]
    if bad:
        raise ValidationFailed("; ".join(f"{r.suite}: {r.summary_line()}" for r in bad))
