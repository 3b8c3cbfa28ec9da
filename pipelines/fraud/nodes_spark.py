"""The fraud window and its protocol splits as Spark expressions, beside `nodes.py`.

Same windows and rules as the pandas steps (`models.fraud.protocol`): the newest
protocol window ends on the last full day of data; the training week is
`[train_start, train_start + train_days)`; the test week follows the label delay and
drops, on each test day, the cards with a fraud on a day in `[train_start, day - delay)`.
Days are UTC calendar days (the session time zone is UTC, `smartpay.spark`). Nothing
here collects rows into the driver but the one-row maximum timestamp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from models.fraud.protocol import Columns, Windows
from pipelines.fraud import nodes

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def protocol_window(tx: DataFrame, w: Windows, time_col: str = "timestamp",
                    weeks: int = 1) -> dict:
    """`nodes.protocol_window` of a Spark table (only its newest timestamp is read)."""
    from pyspark.sql import functions as F

    newest = tx.agg(F.max(time_col).alias(time_col)).toPandas()
    return nodes.protocol_window(newest, w, time_col, weeks)


def rows_between(tx: DataFrame, lo: pd.Timestamp, hi: pd.Timestamp,
                 time_col: str = "timestamp") -> DataFrame:
    """Transactions with lo <= time < hi."""
    from pyspark.sql import functions as F

    ts = F.col(time_col)
    return tx.where((ts >= F.lit(lo.to_pydatetime())) & (ts < F.lit(hi.to_pydatetime())))


def entity_rows(tx: DataFrame) -> DataFrame:
    """`pipelines.features.nodes.entity_rows` as a Spark frame (Feast's Spark store
    takes it as the entity dataframe without a trip through the driver)."""
    from pyspark.sql import functions as F

    ts = F.col("timestamp").cast("timestamp")  # raw times are UTC without a zone
    return tx.select("transaction_id", "customer_id", "terminal_id", "card_id",
                     ts.alias("event_timestamp"), "amount_minor",
                     F.unix_seconds(ts).alias("tx_epoch_s"))


def join_labels(features: DataFrame, tx: DataFrame) -> DataFrame:
    """Attach is_fraud by transaction_id (inner join, one label per transaction)."""
    return features.join(tx.select(*nodes.LABEL_COLUMNS), on="transaction_id",
                         how="inner")


def _day(cols: Columns) -> Column:
    from pyspark.sql import functions as F

    return F.datediff(F.to_date(F.col(cols.time)), F.lit("1970-01-01"))


def _day_of(ts: pd.Timestamp) -> int:
    return int((ts.normalize() - pd.Timestamp("1970-01-01")).days)


def train_rows(df: DataFrame, train_start: pd.Timestamp, w: Windows,
               cols: Columns) -> DataFrame:
    """The handbook split's training week."""
    d0 = _day_of(train_start)
    return df.where(_day(cols).between(d0, d0 + w.train_days - 1))


def test_rows(df: DataFrame, train_start: pd.Timestamp, w: Windows,
              cols: Columns) -> DataFrame:
    """The handbook split's test week without the cards known compromised that day."""
    from pyspark.sql import functions as F

    d0 = _day_of(train_start)
    lo = d0 + w.train_days + w.delay_days
    dated = df.withColumn("_day", _day(cols))
    test = dated.where(F.col("_day").between(lo, lo + w.test_days - 1))
    if cols.card is None:
        return test.drop("_day")
    first = (dated.where((F.col(cols.label) == 1) & (F.col("_day") >= d0))
             .groupBy(cols.card).agg(F.min("_day").alias("_first_fraud")))
    known = F.col("_first_fraud") < F.col("_day") - w.delay_days
    return (test.join(first, on=cols.card, how="left")
            .where(F.col("_first_fraud").isNull() | ~known)
            .drop("_day", "_first_fraud"))


def before(df: DataFrame, day: pd.Timestamp, cols: Columns) -> DataFrame:
    """Rows of days before `day` (the validation folds of a window end there)."""
    return df.where(_day(cols) < _day_of(day))


def card_sample(df: DataFrame, fraction: float, seed: int, cols: Columns) -> DataFrame:
    """Every row of a `fraction` of the cards (a card's rows stay together, so the
    protocol's known-compromised rule sees each kept card's whole history)."""
    from pyspark.sql import functions as F

    if fraction >= 1.0:
        return df
    bucket = F.abs(F.xxhash64(F.col(cols.card), F.lit(seed))) % 1_000_000
    return df.where(bucket < int(fraction * 1_000_000))
