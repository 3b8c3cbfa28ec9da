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
    assert out.features == ["utilisation", "late_payments", "tenure_months",
                            "booked_at_hour", "booked_at_day_of_week",
                            "booked_at_since_prev_account_s"]
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


def _train(path, label="charged_off", time="booked_at", id=None, **spec):
    from smartpay.settings import get_settings

    return fp.train_table(get_settings(), fp.TableSpec(path, label, time, id, **spec), CFG)


def _night_fraud_table(n=4000, seed=7) -> pd.DataFrame:
    """Payments of a made-up acquirer: Unix-second times, an account id, and fraud
    that depends on the hour of day alone (1-4 am), not on any column given."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(1_700_000_000, 1_700_000_000 + 60 * 86_400, n))
    hour = (t % 86_400) // 3_600
    p = np.where((hour >= 1) & (hour <= 4), 0.35, 0.01)
    return pd.DataFrame({"ts_unix": t, "acct_no": rng.integers(0, 300, n),
                         "amt": rng.gamma(2.0, 30.0, n), "channel": rng.integers(0, 3, n),
                         "chargeback": (rng.random(n) < p).astype(int)})


def test_byod_keeps_time_splits_by_time_and_reports_positives_and_interval(
        fresh_registry, tmp_path):
    path = tmp_path / "acquirer.parquet"
    _night_fraud_table().to_parquet(path)
    out = _train(path, label="chargeback", time="ts_unix", id="acct_no",
                 delay=pd.Timedelta(days=2))
    assert {"ts_unix_hour", "ts_unix_day_of_week",
            "ts_unix_since_prev_acct_no_s"} <= set(out.features)
    assert out.metrics[TUNED]["auc"] > 0.8  # only the hour can tell fraud apart
    rep, split = out.report, out.report["split"]
    test_rows = out.comparison.test_frame
    assert rep["test_positives"] == int(test_rows["chargeback"].sum()) > 0
    assert rep["test_rows"] == len(test_rows) == pytest.approx(800, abs=2)
    ap = rep["models"][TUNED]["ap"]
    assert ap["lo"] <= ap["value"] <= ap["hi"]
    assert rep["ap_interval_width"] == pytest.approx(ap["hi"] - ap["lo"], abs=1e-5)
    assert rep["ap_interval_width"] > 0
    assert pd.Timestamp(split["train_last"]) + pd.Timedelta(days=2) <= \
        pd.Timestamp(split["test_first"])
    assert out.comparison.train_frame["ts_unix"].max() < test_rows["ts_unix"].min()


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


@pytest.mark.parametrize("args, field", [(["--test-fraction", "1.5"], "--test-fraction"),
                                         (["--delay", "soon"], "--delay")])
def test_cli_names_a_bad_test_fraction_or_delay(data_dir, tmp_path, args, field):
    from cli.main import app

    path = tmp_path / "t.csv"
    _table(200).to_csv(path, index=False)
    res = CliRunner().invoke(app, ["train", "fraud", "--table", str(path), "--label",
                                   "charged_off", "--time", "booked_at", *args])
    assert isinstance(res.exception, InputError) and field in str(res.exception)
