"""Great Expectations suites: good data passes, each kind of bad data is named."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.simulate.pipeline import SimulationParams, simulate
from pipelines.validate import suites
from pipelines.validate.pipeline import run_suite, save_report


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return simulate(SimulationParams(customers=150, terminals=300, days=20, seed=2))


def test_simulated_transactions_pass_the_raw_suite(tx):
    report = run_suite("transactions", tx, suites.transactions())
    assert report.success, report.failure_lines()


def test_duplicate_transaction_ids_fail_and_are_counted(tx):
    bad = tx.copy()
    bad.loc[bad.index[:3], "transaction_id"] = bad["transaction_id"].iloc[10]
    report = run_suite("transactions", bad, suites.transactions())
    assert not report.success
    line = next(x for x in report.failure_lines() if "unique" in x.lower())
    assert "transaction_id" in line and "4 of" in line


def test_negative_amounts_and_nulls_are_reported_per_column(tx):
    bad = tx.copy()
    bad.loc[bad.index[:2], "amount_minor"] = -5
    bad["currency"] = bad["currency"].astype(object)
    bad.loc[bad.index[:7], "currency"] = None
    report = run_suite("transactions", bad, suites.transactions())
    failed = {(f["expectation"], f["column"]) for f in report.failures}
    assert ("expect_column_values_to_be_between", "amount_minor") in failed
    assert ("expect_column_values_to_not_be_null", "currency") in failed


def test_fraud_rate_outside_the_band_fails(tx):
    bad = tx.copy()
    bad["is_fraud"] = 1
    report = run_suite("transactions", bad, suites.transactions())
    assert any(f["expectation"] == "expect_column_mean_to_be_between" for f in report.failures)


def test_shuffled_timestamps_break_time_ordering(tx):
    bad = tx.sample(frac=1.0, random_state=0)
    report = run_suite("transactions", bad, suites.transactions())
    assert any("increasing" in f["expectation"] for f in report.failures)


def test_report_is_saved_as_json_and_html(tmp_path, tx):
    report = run_suite("transactions", tx.head(100), suites.transactions())
    save_report(report, tmp_path)
    assert (tmp_path / "transactions.json").read_text().count('"success"') > 5
    assert "<table>" in (tmp_path / "transactions.html").read_text()
