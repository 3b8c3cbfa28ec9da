"""Train on Spark (xgboost.spark) -> register -> batch-score with spark_udf, on local[2].

The `spark` fixture's session is active, so the pipeline steps run in it."""

import numpy as np
import pandas as pd
import pytest

from models.fraud import registry
from models.fraud.estimators import TUNED, fit_xgb, matrix, score_booster
from models.fraud.metrics import average_precision
from pipelines.fraud import pipeline as fp
from pipelines.fraud.scoring import score_table
from tests.pipelines.fraud.conftest import TINY_CONFIG, TINY_WINDOWS

pytestmark = pytest.mark.spark


@pytest.fixture
def spark_trained(world, spark):
    settings, _ = world
    return settings, fp.train_reference_spark(settings, TINY_CONFIG, TINY_WINDOWS)


def test_spark_trained_model_registers_and_loads_like_any_version(spark_trained):
    settings, out = spark_trained
    reg = registry.connect(settings)
    assert set(out.metrics) == {TUNED} and out.metrics[TUNED]["ap"] > 0.3
    assert reg.client.get_run(out.run_id).data.params["engine"] == "spark"
    loaded = reg.load_predictor(out.version)
    window = reg.load_frame(out.version)
    assert loaded.features == out.features and loaded.thresholds == out.predictor.thresholds
    np.testing.assert_array_equal(loaded.scores(window), out.predictor.scores(window))
    assert reg.mlmodel(out.version).signature is not None


def test_spark_fit_is_within_0_01_ap_of_the_one_process_fit_on_the_same_rows(
        spark_trained):
    _, out = spark_trained
    comp, label = out.comparison, "is_fraud"
    assert out.rows > len(comp.train_frame) > 0  # the training week, not the window
    one = fit_xgb(matrix(comp.train_frame, comp.features),
                  comp.train_frame[label].to_numpy(), comp.selection.params,
                  comp.features, TINY_CONFIG.seed, 1)
    y = comp.test_frame[label].to_numpy()
    one_ap = average_precision(y, score_booster(one, matrix(comp.test_frame, comp.features)))
    assert abs(out.metrics[TUNED]["ap"] - one_ap) <= 0.01


def _table(settings, version, path):
    window = registry.connect(settings).load_frame(version)
    window.to_parquet(path, index=False)
    return window


def test_batch_scores_on_spark_equal_in_process_predictions(world, spark, tmp_path):
    settings, out = world
    window = _table(settings, out.version, tmp_path / "table.parquet")
    summary = score_table(settings, tmp_path / "table.parquet", tmp_path / "spark_out",
                          "spark")
    got = pd.read_parquet(tmp_path / "spark_out").sort_values("transaction_id")
    expected = window.assign(score=out.predictor.scores(window)).sort_values(
        "transaction_id")
    assert summary["rows"] == len(window) and summary["version"] == out.version
    assert list(got.columns) == ["transaction_id", "customer_id", "terminal_id",
                                 "card_id", "score", "decision"]
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-6)
    decisions = out.predictor.thresholds.decide_many(expected["score"].to_numpy())
    assert got["decision"].tolist() == decisions.tolist()


def test_batch_scores_on_pandas_equal_the_spark_ones(world, spark, tmp_path):
    settings, out = world
    _table(settings, out.version, tmp_path / "table.parquet")
    for engine in ("pandas", "spark"):
        score_table(settings, tmp_path / "table.parquet", tmp_path / engine, engine)
    by_engine = [pd.read_parquet(tmp_path / e).sort_values("transaction_id")
                 .reset_index(drop=True) for e in ("pandas", "spark")]
    pd.testing.assert_frame_equal(*by_engine, check_dtype=False, rtol=1e-6)
