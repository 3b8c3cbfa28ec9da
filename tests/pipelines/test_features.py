"""The feature pipeline: exact point-in-time windows, Feast retrieval, safe writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.store import open_store, tables_dir
from pipelines.features import nodes
from pipelines.features.pipeline import _write_all, apply, build, compute_tables, materialize
from pipelines.io import write_parquet_atomic
from pipelines.simulate.pipeline import SimulationParams, simulate
from smartpay.errors import DataFileError, ValidationFailed
from smartpay.settings import get_settings

DELAY = pd.Timedelta(days=7)


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return simulate(SimulationParams(customers=200, terminals=400, days=50, seed=3))


def _recompute(row: pd.Series, tx: pd.DataFrame) -> dict[str, float]:
    """Brute force: what was visible at the row's time, straight from raw data."""
    t = row["event_timestamp"].tz_localize(None)
    out = {}
    cust = tx[tx["customer_id"] == row["customer_id"]]
    term = tx[tx["terminal_id"] == row["terminal_id"]]
    for w in (1, 7, 30):
        win = pd.Timedelta(days=w)
        c = cust[(cust["timestamp"] > t - win) & (cust["timestamp"] < t)]
        out[f"cust_tx_count_{w}d"] = len(c)
        out[f"cust_avg_amount_{w}d"] = c["amount_minor"].mean() / 100 if len(c) else 0.0
        k = term[(term["timestamp"] > t - DELAY - win) & (term["timestamp"] <= t - DELAY)]
        out[f"term_tx_count_{w}d"] = len(k)
        out[f"term_fraud_share_{w}d"] = k["is_fraud"].mean() if len(k) else 0.0
    amount = row["amount_minor"] / 100
    out["amount"] = amount
    out["is_night"] = int(t.hour <= 6)
    out["is_weekend"] = int(t.dayofweek >= 5)
    avg = out["cust_avg_amount_30d"]
    out["amount_to_cust_avg_30d"] = amount / avg if avg > 0 else 1.0
    return out


def _served(settings, tx: pd.DataFrame, sample: pd.DataFrame) -> pd.DataFrame:
    store = open_store(settings)
    job = store.get_historical_features(
        entity_df=nodes.entity_rows(sample), features=store.get_feature_service("fraud_model_v1"))
    return job.to_df()


def _mismatches(served: pd.DataFrame, tx: pd.DataFrame) -> int:
    bad = 0
    for _, row in served.iterrows():
        for name, expected in _recompute(row, tx).items():
            bad += not np.isclose(float(row[name]), float(expected), atol=1e-9)
    return bad


# Each offline store the profiles use: DuckDB (local, prod) and Spark (cluster). The
# Spark case runs inside the session-wide `spark` fixture, which Feast picks up.
OFFLINE_STORES = ["local", pytest.param("cluster", marks=pytest.mark.spark)]


def _profile(request, monkeypatch, profile: str):
    if profile == "cluster":
        request.getfixturevalue("spark")
        monkeypatch.delenv("SMARTPAY_REDIS_URL", raising=False)
    monkeypatch.setenv("SMARTPAY_PROFILE", profile)
    settings = get_settings()
    assert open_store(settings).config.offline_store.type == (
        "spark" if profile == "cluster" else "duckdb")
    return settings


@pytest.mark.parametrize("profile", OFFLINE_STORES)
def test_served_training_features_equal_what_was_visible_at_each_transaction(
        data_dir, raw, request, monkeypatch, profile):
    settings = _profile(request, monkeypatch, profile)
    _write_all(compute_tables(raw), tables_dir(settings))
    apply(settings)
    sample = raw.sample(120, random_state=1)
    served = _served(settings, raw, sample)
    assert len(served) == len(sample)
    assert _mismatches(served, raw) == 0


@pytest.mark.parametrize("profile", OFFLINE_STORES)
def test_a_leaky_terminal_feature_without_label_delay_fails_the_check(
        data_dir, raw, request, monkeypatch, profile):
    settings = _profile(request, monkeypatch, profile)
    tables = compute_tables(raw)
    tables["terminal_risk"] = nodes.terminal_risk(raw, delay_days=0)  # sees today's labels
    _write_all(tables, tables_dir(settings))
    apply(settings)
    served = _served(settings, raw, raw[raw["is_fraud"] == 1].sample(60, random_state=2))
    assert _mismatches(served, raw) > 0


def test_customer_windows_exclude_the_transaction_itself(raw):
    table = nodes.customer_spending(raw)
    first = raw.sort_values("timestamp").drop_duplicates("customer_id")
    firsts = table.merge(first[["customer_id", "timestamp"]],
                         left_on=["customer_id", "event_timestamp"],
                         right_on=["customer_id", "timestamp"])
    assert (firsts["cust_tx_count_30d"] == 0).all()


def test_online_store_serves_the_latest_row_per_customer(data_dir, raw):
    settings = get_settings()
    write_parquet_atomic(raw, settings.path("raw", "transactions.parquet"))
    build(settings, settings.path("raw", "transactions.parquet"))
    apply(settings)
    counts = materialize(settings)
    assert counts["customer_spending"] == raw["customer_id"].nunique()
    table = pd.read_parquet(tables_dir(settings) / "customer_spending.parquet")
    cid = int(table["customer_id"].iloc[0])
    latest = table[table["customer_id"] == cid].sort_values("event_timestamp").iloc[-1]
    online = open_store(settings).get_online_features(
        features=["customer_spending:cust_tx_count_30d"], entity_rows=[{"customer_id": cid}]
    ).to_dict()
    assert online["cust_tx_count_30d"] == [int(latest["cust_tx_count_30d"])]


def test_failed_validation_leaves_previous_tables_untouched(data_dir, raw):
    settings = get_settings()
    path = settings.path("raw", "transactions.parquet")
    write_parquet_atomic(raw, path)
    build(settings, path)
    before = {p.name: p.read_bytes() for p in tables_dir(settings).glob("*.parquet")}
    bad = raw.copy()
    bad.loc[bad.index[:5], "amount_minor"] = 10**12  # absurd amounts -> absurd averages
    write_parquet_atomic(bad, path)
    with pytest.raises(ValidationFailed, match="customer_spending"):
        build(settings, path)
    after = {p.name: p.read_bytes() for p in tables_dir(settings).glob("*.parquet")}
    assert after == before


def test_missing_raw_file_names_the_file(data_dir):
    missing = data_dir / "nope.parquet"
    with pytest.raises(DataFileError, match="nope.parquet"):
        build(get_settings(), missing)


def test_corrupt_raw_file_names_the_file(data_dir):
    bad = data_dir / "corrupt.parquet"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataFileError, match="corrupt.parquet"):
        build(get_settings(), bad)
