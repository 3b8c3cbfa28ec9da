"""The protocol's splits as Spark expressions select the rows the pandas splits do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.fraud.protocol import Columns, Windows, handbook_split
from pipelines.fraud import nodes_spark

pytestmark = pytest.mark.spark

W, COLS = Windows(), Columns()
START = pd.Timestamp("2018-05-01")


@pytest.fixture(scope="module")
def window() -> pd.DataFrame:
    """Four weeks of rows on 40 cards, frauds sprinkled so some cards become known
    compromised during the test week and some only after it."""
    rng = np.random.default_rng(7)
    n = 4000
    ts = START - pd.Timedelta(days=3) + pd.to_timedelta(rng.uniform(0, 28 * 86_400, n),
                                                         unit="s")
    ts = ts.floor("us")  # parquet and Spark hold microseconds
    df = pd.DataFrame({"transaction_id": np.arange(n), "event_timestamp": ts,
                       "card_id": rng.integers(0, 40, n),
                       "is_fraud": (rng.uniform(size=n) < 0.01).astype("int64")})
    return df.sort_values(["event_timestamp", "transaction_id"]).reset_index(drop=True)


def _ids(sdf) -> list[int]:
    return sorted(r.transaction_id for r in sdf.select("transaction_id").collect())


def test_spark_training_week_is_the_pandas_training_week(window, spark):
    split = handbook_split(window, START, W, COLS)
    got = _ids(nodes_spark.train_rows(spark.createDataFrame(window), START, W, COLS))
    assert got == sorted(window["transaction_id"].iloc[split.train]) and got


def test_spark_test_week_drops_the_same_known_compromised_cards(window, spark):
    split = handbook_split(window, START, W, COLS)
    got = _ids(nodes_spark.test_rows(spark.createDataFrame(window), START, W, COLS))
    lo = START + (W.train_days + W.delay_days) * pd.Timedelta(days=1)
    in_week = window[(window["event_timestamp"] >= lo)
                     & (window["event_timestamp"] < lo + pd.Timedelta(days=W.test_days))]
    assert got == sorted(window["transaction_id"].iloc[split.test])
    assert 0 < len(got) < len(in_week)  # some rows were dropped, not all


def test_card_sample_keeps_every_row_of_the_cards_it_keeps(window, spark):
    sample = nodes_spark.card_sample(spark.createDataFrame(window), 0.5, 1, COLS)
    kept = sample.toPandas()
    cards = set(kept["card_id"])
    assert 0 < len(cards) < window["card_id"].nunique()
    assert len(kept) == window["card_id"].isin(cards).sum()
