"""The fraud pipeline against a real standalone Spark cluster (master + 2 worker JVMs).

The CLI runs in subprocesses, as a user would run it against an existing cluster: this
process's own local[2] session (one SparkContext per process) stays out of the way.
The feature build (Spark windows), training (xgboost.spark, 2 workers) and batch
scoring (spark_udf) run on the cluster; the point-in-time training set is Feast's
DuckDB store of the `local` profile over the tables the cluster wrote.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from models.fraud import registry
from smartpay.spark import spark_missing_reason

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def _smartpay(args: list[str], data_dir, master: str) -> str:
    env = {**os.environ, "SMARTPAY_DATA_DIR": str(data_dir), "SMARTPAY_PROFILE": "local",
           "SMARTPAY_SPARK_MASTER": master, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_fraud_model_trains_and_scores_on_a_standalone_cluster_of_two_workers(
        world, tmp_path):
    from harness.spark_cluster import standalone_cluster

    reason = spark_missing_reason()
    if reason:
        if os.environ.get("SMARTPAY_REQUIRE_PROD") == "1":
            pytest.fail(reason + "; SMARTPAY_REQUIRE_PROD=1 forbids skipping")
        pytest.skip(reason)
    settings, first = world
    table = tmp_path / "table.parquet"
    registry.connect(settings).load_frame(first.version).to_parquet(table, index=False)
    with standalone_cluster(tmp_path / "cluster") as url:
        data = settings.data_dir
        _smartpay(["features", "build", "--engine", "spark", "--no-validate"], data, url)
        trained = json.loads(_smartpay(["train", "fraud", "--engine", "spark", "--master",
                                        url, "--trials", "1", "--json"], data, url))
        scored = json.loads(_smartpay(["score", "fraud", "--engine", "spark", "--table",
                                       str(table), "--out", str(tmp_path / "out"),
                                       "--json"], data, url))
    assert set(trained["models"]) == {"xgboost_tuned"}
    reg = registry.connect(settings)
    predictor = reg.load_predictor(scored["version"])
    window = pd.read_parquet(table)
    got = pd.read_parquet(tmp_path / "out").sort_values("transaction_id")
    expected = window.assign(score=predictor.scores(window)).sort_values("transaction_id")
    assert scored["rows"] == len(window)
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-6)
