"""The Spark feature build equals the pandas build, row for row."""

from __future__ import annotations

import pandas as pd
import pytest

from features.store import tables_dir
from pipelines.features import pipeline_spark
from pipelines.features.pipeline import RAW_COLUMNS, compute_tables
from pipelines.io import read_table, write_parquet_atomic
from pipelines.simulate.pipeline import SimulationParams, run
from smartpay.errors import ValidationFailed
from smartpay.settings import Settings

pytestmark = pytest.mark.spark

KEYS = {"customer_spending": ["customer_id", "event_timestamp"],
        "terminal_risk": ["terminal_id", "event_timestamp"],
        "card_profile": ["card_id"]}


@pytest.fixture(scope="module")
def sampled_world(tmp_path_factory):
    """A few hundred customers over three weeks, written as the simulator writes it."""
    data = tmp_path_factory.mktemp("spark_features")
    raw = data / "raw" / "transactions.parquet"
    run(SimulationParams(customers=250, terminals=500, days=21, seed=11), raw)
    return Settings(data_dir=data, profile="local"), raw


@pytest.fixture(scope="module")
def built(spark, sampled_world):
    """The sampled world's tables built once on Spark."""
    settings, raw = sampled_world
    return pipeline_spark.build(spark, settings, raw, RAW_COLUMNS, validate=False)


def test_spark_feature_tables_equal_the_pandas_tables_row_for_row(sampled_world, built):
    settings, raw = sampled_world
    expected = compute_tables(read_table(raw, RAW_COLUMNS))
    for name, keys in KEYS.items():
        want = expected[name].sort_values(keys).reset_index(drop=True)
        got = read_table(built.paths[name]).sort_values(keys).reset_index(drop=True)
        assert list(got.columns) == list(want.columns), name
        assert built.rows[name] == len(want), name
        # Floats differ only by summation order (pandas: cumulative sums).
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9,
                                      atol=1e-9)


def test_terminal_windows_on_spark_only_see_labels_older_than_the_delay(
        spark, sampled_world):
    settings, raw = sampled_world
    tx = spark.read.parquet(str(raw))
    table = pipeline_spark.compute_tables(tx)["terminal_risk"].toPandas()
    start = table["event_timestamp"].min()
    first_week = table["event_timestamp"] < start + pd.Timedelta(days=7)
    assert (table.loc[first_week, "term_tx_count_30d"] == 0).all()
    assert (table.loc[~first_week, "term_tx_count_30d"] > 0).any()


def test_a_spark_build_failing_validation_leaves_the_previous_tables(
        spark, sampled_world, built, tmp_path):
    settings, raw = sampled_world
    folder = tables_dir(settings)
    before = {p: p.read_bytes() for p in folder.glob("*.parquet/*.parquet")}
    bad = read_table(raw)
    bad.loc[bad.index[:5], "amount_minor"] = 10**12  # absurd amounts -> absurd averages
    bad_path = tmp_path / "bad.parquet"
    write_parquet_atomic(bad, bad_path)
    with pytest.raises(ValidationFailed, match="customer_spending"):
        pipeline_spark.build(spark, settings, bad_path, RAW_COLUMNS, validate=True)
    assert {p: p.read_bytes() for p in folder.glob("*.parquet/*.parquet")} == before
    assert not list(folder.glob("*.tmp"))
