"""The Spark training window (Feast's Spark store, Spark entity rows, the on-demand
view applied on the executors) holds the rows and values of the pandas window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.fraud.protocol import Windows
from pipelines.features.pipeline import apply, build
from pipelines.fraud import pipeline, pipeline_spark
from pipelines.simulate.pipeline import SimulationParams, run
from smartpay.settings import get_settings, reset_settings

pytestmark = pytest.mark.spark

W = Windows(n_folds=2)


def _profile(monkeypatch, profile: str):
    monkeypatch.setenv("SMARTPAY_PROFILE", profile)
    monkeypatch.delenv("SMARTPAY_REDIS_URL", raising=False)
    reset_settings()
    settings = get_settings()
    apply(settings)
    return settings


def test_spark_window_equals_the_pandas_window_row_for_row(data_dir, monkeypatch, spark):
    settings = get_settings()
    raw = settings.path("raw", "transactions.parquet")
    run(SimulationParams(customers=120, terminals=240, days=45, seed=4), raw)
    build(settings, raw, validate=False)
    expected, feats, win = pipeline.feature_frame(_profile(monkeypatch, "local"), W)
    sdf, spark_feats, spark_win = pipeline_spark.feature_frame(
        spark, _profile(monkeypatch, "cluster"), W)
    got = pipeline_spark.to_driver(sdf)
    assert spark_feats == feats and spark_win == win
    assert got["transaction_id"].tolist() == expected["transaction_id"].tolist()
    assert (got["is_fraud"].to_numpy() == expected["is_fraud"].to_numpy()).all()
    for name in feats:  # the on-demand ones (amount, is_night, ...) included
        np.testing.assert_allclose(got[name].astype(float), expected[name].astype(float),
                                   rtol=1e-9, err_msg=name)
    assert pd.api.types.is_datetime64_dtype(got["event_timestamp"])
