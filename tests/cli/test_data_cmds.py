"""The data-stage commands as a user runs them: exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd


def _smartpay(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "SMARTPAY_DATA_DIR": str(data_dir), "SMARTPAY_PROFILE": "local"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_simulate_writes_parquet_and_prints_json_summary(tmp_path):
    out = tmp_path / "tx.parquet"
    res = _smartpay("simulate", "--customers", "50", "--terminals", "100", "--days", "10",
                    "--out", str(out), "--json", data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    assert '"transactions"' in res.stdout.splitlines()[-1]
    assert len(pd.read_parquet(out)) > 0


def test_negative_customer_count_is_a_one_line_error(tmp_path):
    res = _smartpay("simulate", "--customers", "-3", data_dir=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "customers" in res.stderr and "positive integer" in res.stderr


def test_unparseable_start_date_is_a_one_line_error(tmp_path):
    res = _smartpay("simulate", "--start", "31/31/2018", data_dir=tmp_path)
    assert res.returncode == 2 and "start" in res.stderr


def test_unwritable_output_names_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = _smartpay("simulate", "--customers", "5", "--terminals", "5", "--days", "2",
                    "--out", str(blocker / "sub" / "tx.parquet"), data_dir=tmp_path)
    assert res.returncode == 2 and "tx.parquet" in res.stderr


def test_validate_exits_non_zero_and_names_the_failed_expectation(tmp_path):
    raw = tmp_path / "tx.parquet"
    assert _smartpay("simulate", "--customers", "60", "--terminals", "120", "--days", "10",
                     "--out", str(raw), data_dir=tmp_path).returncode == 0
    df = pd.read_parquet(raw)
    df.loc[df.index[:4], "amount_minor"] = -1
    df.to_parquet(raw)
    res = _smartpay("validate", "--table", str(raw), "--no-features", data_dir=tmp_path)
    assert res.returncode == 1
    assert "amount_minor" in res.stdout and "4 of" in res.stdout
    assert (tmp_path / "reports" / "validation" / "transactions.html").exists()


def test_features_build_on_a_missing_file_names_the_file(tmp_path):
    res = _smartpay("features", "build", "--raw", str(tmp_path / "absent.parquet"),
                    data_dir=tmp_path)
    assert res.returncode == 2 and "absent.parquet" in res.stderr
