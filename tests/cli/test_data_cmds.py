"""The data-stage commands as a user runs them: exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pipelines.io import read_table


def _smartpay(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "SMARTPAY_DATA_DIR": str(data_dir), "SMARTPAY_PROFILE": "local"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_simulate_writes_day_partitions_and_prints_json_summary(tmp_path):
    out = tmp_path / "tx.parquet"
    res = _smartpay("simulate", "--customers", "50", "--terminals", "100", "--days", "10",
                    "--out", str(out), "--json", data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    assert '"transactions"' in res.stdout.splitlines()[-1]
    assert sorted(p.name for p in out.iterdir())[0] == "tx_date=2018-04-01"
    assert len(list(out.iterdir())) == 10
    summary = json.loads(res.stdout.splitlines()[-1])
    assert len(read_table(out)) == summary["transactions"]


def test_simulate_at_scale_multiplies_customers_and_streams_days(tmp_path):
    out = tmp_path / "tx.parquet"
    res = _smartpay("simulate", "--customers", "20", "--terminals", "40", "--days", "3",
                    "--scale", "10", "--out", str(out), "--json", data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    tx = read_table(out)
    assert tx["customer_id"].max() >= 20 and tx["customer_id"].max() < 200
    assert tx["transaction_id"].tolist() == list(range(len(tx)))
    assert tx["timestamp"].is_monotonic_increasing


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
    df = read_table(raw)
    df.loc[df.index[:4], "amount_minor"] = -1
    bad = tmp_path / "bad.parquet"
    df.to_parquet(bad)
    res = _smartpay("validate", "--table", str(bad), "--no-features", data_dir=tmp_path)
    assert res.returncode == 1
    assert "amount_minor" in res.stdout and "4 of" in res.stdout
    assert (tmp_path / "reports" / "validation" / "transactions.html").exists()


def test_features_build_on_a_missing_file_names_the_file(tmp_path):
    res = _smartpay("features", "build", "--raw", str(tmp_path / "absent.parquet"),
                    data_dir=tmp_path)
    assert res.returncode == 2 and "absent.parquet" in res.stderr
