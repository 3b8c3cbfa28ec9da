"""The newest fraud window as a Spark DataFrame, from Feast's Spark offline store.

`pipeline.feature_frame` read as a Spark job end to end: the raw table is read by
Spark, the protocol window and the entity rows are Spark expressions
(`nodes_spark`), `get_historical_features(fraud_model_v1)` takes the entity rows as a
Spark frame and returns one, and the FeatureService's on-demand view
(`transaction_context`) is applied by Feast's own transform on the executors
(`mapInArrow`). No row reaches the driver, so its memory does not grow with the world.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

from models.fraud.protocol import DAY, Columns, Windows
from pipelines.fraud import nodes, nodes_spark
from smartpay.errors import SmartPayError
from smartpay.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)
RAW_COLUMNS = ["transaction_id", "timestamp", "customer_id", "terminal_id", "card_id",
               "amount_minor", "is_fraud"]


def feature_frame(spark: SparkSession, settings: Settings, w: Windows, weeks: int = 1
                  ) -> tuple[DataFrame, list[str], dict]:
    """Newest protocol window(s) of labelled rows with the FeatureService's features,
    as a lazy Spark frame; its feature names; the window's bounds. A profile whose
    offline store is not Spark's (DuckDB on one machine) builds the window in the
    driver, as the pandas path does, and hands it to Spark."""
    from features.store import offline_on_spark, open_store
    from pipelines.features.pipeline_spark import read_raw
    from pipelines.fraud import pipeline

    if not offline_on_spark(settings):
        df, feats, win = pipeline.feature_frame(settings, w, weeks)
        return spark.createDataFrame(df), feats, win
    tx = read_raw(spark, settings.path("raw", "transactions.parquet"), RAW_COLUMNS)
    win = nodes_spark.protocol_window(tx, w, weeks=weeks)
    tx = nodes_spark.rows_between(tx, win["first_day"], win["end"])
    store = open_store(settings)
    try:
        service = store.get_feature_service(pipeline.FEATURE_SERVICE)
    except Exception as exc:  # Feast raises its own not-found types
        raise SmartPayError(f"FeatureService {pipeline.FEATURE_SERVICE} not found ({exc}); run "
                            "`smartpay features build` and `smartpay features apply`") from None
    job = store.get_historical_features(entity_df=nodes_spark.entity_rows(tx),
                                        features=service)
    features = with_on_demand(job.to_spark_df(), job.on_demand_feature_views)
    return nodes_spark.join_labels(features, tx), nodes.service_features(service), win


def with_on_demand(sdf: DataFrame, views: list) -> DataFrame:
    """`sdf` plus the features of Feast's on-demand `views`, computed batch by batch by
    each view's `transform_arrow` (what Feast's `to_df` does in the driver)."""
    if not views:
        return sdf
    import pyarrow as pa
    from feast.type_map import feast_value_type_to_pa
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    added = {f.name: feast_value_type_to_pa(f.dtype.to_value_type())
             for view in views for f in view.features}
    schema = StructType([*sdf.schema.fields,
                         *[StructField(n, from_arrow_type(t)) for n, t in added.items()]])

    def transform(batches):
        for batch in batches:
            table = pa.Table.from_batches([batch])
            out = {}
            for view in views:
                result = view.transform_arrow(table, False)
                out.update({f.name: result[f.name] for f in view.features})
            for name, kind in added.items():
                table = table.append_column(name, out[name].cast(kind))
            yield from table.to_batches()

    return sdf.mapInArrow(transform, schema)


def to_driver(sdf: DataFrame) -> pd.DataFrame:
    """Rows of a Spark window in the driver, ordered as `nodes.join_labels` orders the
    pandas window (time, then transaction id)."""
    out = sdf.toPandas()
    out["event_timestamp"] = pd.to_datetime(out["event_timestamp"]).dt.tz_localize(None)
    return out.sort_values(["event_timestamp", "transaction_id"]).reset_index(drop=True)


def selection_frame(window: DataFrame, train_start: pd.Timestamp, w: Windows,
                    cols: Columns, max_rows: int, seed: int) -> pd.DataFrame:
    """The rows the prequential folds of `train_start` read (every day before its test
    week's delay), in the driver for the parameter search: all of them up to
    `max_rows`, else the rows of a share of the cards that fits."""
    rows = nodes_spark.before(window, train_start + w.train_days * DAY, cols)
    n = rows.count()
    share = 1.0 if n <= max_rows else max_rows / n
    if share < 1.0:
        log.info("parameter search on %.1f %% of the cards (%d of %d rows in reach)",
                 100 * share, max_rows, n)
    return to_driver(nodes_spark.card_sample(rows, share, seed, cols))
