"""Bring-your-own-data: any parquet/CSV table trains, with clear errors on bad input."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.fraud.estimators import BASELINES, TUNED
from models.fraud.train import TrainConfig
from pipelines.fraud import pipeline as fp
from smartpay.errors import DataFileError, InputError

CFG = TrainConfig(n_trials=2, n_jobs=1)


def _table(n=3000, seed=0) -> pd.DataFrame:
    """A loan-style table nobody in the project generated: risk rises with two columns."""
    rng = np.random.default_rng(seed)
    utilisation, late = rng.random(n), rng.poisson(0.5, n)
    logit = -5 + 4 * utilisation + 1.2 * late
    return pd.DataFrame({
        "booked_at": pd.date_range("2023-01-01", periods=n, freq="37min").astype(str),
        "account": rng.integers(0, 400, n),
        "utilisation": utilisation, "late_payments": late,
        "tenure_months": rng.integers(1, 120, n), "region": rng.choice(["n", "s"], n),
        "charged_off": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})


def test_a_foreign_csv_trains_all_four_models_and_registers(fresh_registry, tmp_path):
    path = tmp_path / "loans.csv"
    _table().to_csv(path, index=False)
    out = _train(path, id="account")
    assert set(out.metrics) == {*BASELINES, TUNED}
    assert out.metrics[TUNED]["auc"] > 0.7 and out.metrics[TUNED]["cp100"] is not None
    assert out.features == ["utilisation", "late_payments", "tenure_months"]
    assert out.champion == out.version
    assert out.decision.checks["renamed_ids_keep_score"] is True  # the --id column


def test_cli_trains_a_parquet_table_and_prints_json_last(fresh_registry, tmp_path):
    from cli.main import app

    path = tmp_path / "loans.parquet"
    _table(seed=1).drop(columns="account").to_parquet(path)
    res = CliRunner().invoke(app, ["train", "fraud", "--table", str(path), "--label",
                                   "charged_off", "--time", "booked_at", "--trials", "2",
                                   "--json"])
    assert res.exit_code == 0, res.output
    last = json.loads(res.output.strip().splitlines()[-1])
    assert set(last["models"]) == {*BASELINES, TUNED} and last["champion"] == "1"
    assert last["models"][TUNED]["cp100"] is None


def _train(path, label="charged_off", time="booked_at", id=None):
    from smartpay.settings import get_settings

    return fp.train_table(get_settings(), fp.TableSpec(path, label, time, id), CFG)


@pytest.mark.parametrize("kwargs, field", [({"label": "default_flag"}, "--label"),
                                           ({"time": "when"}, "--time"),
                                           ({"id": "customer"}, "--id")])
def test_a_missing_column_is_named(data_dir, tmp_path, kwargs, field):
    path = tmp_path / "t.csv"
    _table(200).to_csv(path, index=False)
    with pytest.raises(InputError, match=field) as err:
        _train(path, **kwargs)
    assert list(kwargs.values())[0] in str(err.value)


def test_a_non_binary_label_is_refused_with_its_values(data_dir, tmp_path):
    path = tmp_path / "t.csv"
    _table(200).assign(charged_off=lambda d: d["late_payments"]).to_csv(path, index=False)
    with pytest.raises(InputError, match="binary 0/1"):
        _train(path)


def test_a_label_with_one_class_is_refused(data_dir, tmp_path):
    path = tmp_path / "t.csv"
    _table(200).assign(charged_off=0).to_csv(path, index=False)
    with pytest.raises(InputError, match="both classes"):
        _train(path)


def test_an_unreadable_file_names_the_file(data_dir, tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataFileError, match="broken.parquet"):
        _train(path)


def test_cli_turns_bad_input_into_one_line_and_exit_code_2(data_dir, tmp_path):
    import subprocess
    import sys

    path = tmp_path / "t.csv"
    _table(200).to_csv(path, index=False)
    res = subprocess.run([sys.executable, "-c", "from cli.main import run; run()", "train",
                          "fraud", "--table", str(path), "--label", "nope", "--time",
                          "booked_at"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--label: got 'nope'" in res.stderr
