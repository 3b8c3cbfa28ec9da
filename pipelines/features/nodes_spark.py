"""The feature computations of `nodes` on Spark: same windows, same columns, same rows.

Each function takes and returns a Spark DataFrame and is built only from Spark SQL
window functions (no Python UDF touches a row), so it runs on any cluster. Windows are
ranges over whole seconds: a customer row at t sees [t - W + 1, t - 1], i.e. (t - W, t);
a terminal row sees [t - D - W + 1, t - D], i.e. (t - D - W, t - D], D the label delay.
Values are written as `nodes` writes them (means over an empty window are 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from features.windows import (DAY_S, LABEL_DELAY_DAYS, WINDOWS_DAYS, customer_columns,
                              terminal_columns)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def customer_spending(tx: DataFrame, windows_days=WINDOWS_DAYS) -> DataFrame:
    """Per transaction: the customer's count and mean amount over each window before."""
    from pyspark.sql import functions as F

    df = tx.select("customer_id", _event_time(),
                   _seconds(), "amount_minor")
    cols = []
    for w in windows_days:
        win = _range("customer_id", -w * DAY_S + 1, -1)
        n_col, avg_col = customer_columns(w)
        n = F.count(F.lit(1)).over(win)
        total = F.coalesce(F.sum("amount_minor").over(win), F.lit(0))
        cols += [n.cast("long").alias(n_col),
                 F.when(n > 0, total / n / 100.0).otherwise(0.0).alias(avg_col)]
    return _dedupe(df.select("customer_id", "event_timestamp", *cols), "customer_id")


def terminal_risk(tx: DataFrame, windows_days=WINDOWS_DAYS,
                  delay_days: int = LABEL_DELAY_DAYS) -> DataFrame:
    """Per transaction: the terminal's count and fraud share over windows ending D days
    before it."""
    from pyspark.sql import functions as F

    df = tx.select("terminal_id", _event_time(),
                   _seconds(),
                   F.col("is_fraud").cast("long").alias("is_fraud"))
    d = delay_days * DAY_S
    cols = []
    for w in windows_days:
        win = _range("terminal_id", -(d + w * DAY_S) + 1, -d)
        n_col, share_col = terminal_columns(w)
        n = F.count(F.lit(1)).over(win)
        frauds = F.coalesce(F.sum("is_fraud").over(win), F.lit(0))
        cols += [n.cast("long").alias(n_col),
                 F.when(n > 0, frauds / n).otherwise(0.0).alias(share_col)]
    return _dedupe(df.select("terminal_id", "event_timestamp", *cols), "terminal_id")


def card_profile(tx: DataFrame) -> DataFrame:
    """One row per card: its network and issuing country, stamped at first use."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy("card_id").orderBy("timestamp", "transaction_id")
    return (tx.withColumn("_n", F.row_number().over(first)).where("_n = 1")
            .select("card_id", _event_time(),
                    "card_network", "issuing_country"))


def _range(key: str, lo: int, hi: int):
    """Rows of the same `key` whose time in seconds lies in [t + lo, t + hi]."""
    from pyspark.sql import Window

    return Window.partitionBy(key).orderBy("_t").rangeBetween(lo, hi)


def _dedupe(df: DataFrame, key: str) -> DataFrame:
    """Transactions of one entity in the same instant see the same history: keep one."""
    return df.dropDuplicates([key, "event_timestamp"])


def _seconds():
    """Whole seconds since the epoch of the raw timestamp (naive times are UTC)."""
    from pyspark.sql import functions as F

    return F.unix_seconds(F.col("timestamp").cast("timestamp")).alias("_t")


def _event_time():
    """The transaction time as a UTC wall-clock timestamp without zone, as the pandas
    build writes it (whatever zone type the raw table carries)."""
    from pyspark.sql import functions as F

    return F.col("timestamp").cast("timestamp_ntz").alias("event_timestamp")
