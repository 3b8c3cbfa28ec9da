"""Issuer fraud reports as terminal features: the assumed stream, point in time."""

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.fraud.issuer_reports import (
    ISSUER_FEATURES, IssuerReports, add_issuer_reports, report_times, terminal_reports)

T0 = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)


def _table(n=4000, days=40, terminals=12, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = T0 + pd.to_timedelta(np.sort(rng.integers(0, days * 86_400, n)), unit="s")
    return pd.DataFrame({"event_timestamp": t, "terminal_id": rng.integers(0, terminals, n),
                         "is_fraud": (rng.random(n) < 0.1).astype(int)})


def _epoch(ts) -> np.ndarray:
    return pd.Series(ts).to_numpy().astype("datetime64[s]").astype(np.int64)


def test_only_frauds_are_reported_about_the_assumed_share_within_the_delay_range():
    df = _table(20_000)
    params = IssuerReports(share=0.5, min_delay_days=1, max_delay_days=5)
    known = report_times(df, params, seed=7)
    fraud = df["is_fraud"].to_numpy() == 1
    reported = known >= 0
    assert not reported[~fraud].any()
    assert reported[fraud].mean() == pytest.approx(0.5, abs=0.05)
    delay_days = (known[reported] - _epoch(df["event_timestamp"])[reported]) / 86_400
    assert delay_days.min() >= 1 and delay_days.max() <= 5
    assert delay_days.mean() == pytest.approx(3, abs=0.15)  # uniform on [1, 5]


def test_the_report_stream_is_fixed_by_the_seed():
    df = _table()
    params = IssuerReports()
    assert np.array_equal(report_times(df, params, 3), report_times(df, params, 3))
    assert not np.array_equal(report_times(df, params, 3), report_times(df, params, 4))


def test_a_row_counts_exactly_the_reports_on_its_terminal_known_before_it():
    df = _table(1500)
    known = report_times(df, IssuerReports(share=0.8), seed=1)
    got = terminal_reports(df, known)
    t, term = _epoch(df["event_timestamp"]), df["terminal_id"].to_numpy()
    for i in range(0, len(df), 11):
        same = term == term[i]
        for w, col in ((1, "term_issuer_frauds_1d"), (7, "term_issuer_frauds_7d")):
            seen = same & (known >= 0) & (known < t[i]) & (known >= t[i] - w * 86_400)
            assert got[col].iloc[i] == seen.sum()
        handled = (same & (t < t[i]) & (t >= t[i] - 7 * 86_400)).sum()
        expected = got["term_issuer_frauds_7d"].iloc[i] / handled if handled else 0.0
        assert got["term_issuer_fraud_share_7d"].iloc[i] == pytest.approx(expected)


def test_a_report_known_after_t_never_changes_the_features_at_t():
    # Move every report known after the cut (later, earlier but still after the cut, or
    # drop it) and add new ones after it: no row up to the cut may change.
    df = _table()
    known = report_times(df, IssuerReports(), seed=2)
    cut = _epoch([T0 + 25 * DAY])[0]
    t = _epoch(df["event_timestamp"])
    late = known > cut
    rng = np.random.default_rng(5)
    mutated = known.copy()
    mutated[late] = np.where(rng.random(late.sum()) < 0.3, -1,
                             cut + 1 + rng.integers(0, 10 * 86_400, late.sum()))
    extra = (known < 0) & (t <= cut) & (rng.random(len(df)) < 0.2)
    mutated[extra] = cut + 1 + rng.integers(0, 86_400, extra.sum())
    a, b = terminal_reports(df, known), terminal_reports(df, mutated)
    upto = t <= cut
    assert late.any() and extra.any()
    pd.testing.assert_frame_equal(a[upto], b[upto])
    assert not a[~upto].equals(b[~upto])


def test_a_terminal_with_reported_frauds_is_visible_within_days_not_after_the_label_delay():
    # A terminal compromised on day 10: every transaction is fraud from then on. Its
    # first report arrives 1-5 days later, so by day 16 its rows see reports, long
    # before the 7-day-delayed labels could show anything.
    t = T0 + pd.to_timedelta(np.arange(0, 20 * 24) * 3600, unit="s")  # hourly, 20 days
    df = pd.DataFrame({"event_timestamp": t, "terminal_id": 1,
                       "is_fraud": (t >= T0 + 10 * DAY).astype(int)})
    known = report_times(df, IssuerReports(share=0.5), seed=0)
    feats = terminal_reports(df, known)
    day = (df["event_timestamp"] - T0) / DAY
    assert (feats["term_issuer_frauds_7d"][day < 11] == 0).all()
    assert (feats["term_issuer_frauds_7d"][day >= 16] > 0).all()


def test_features_are_unknown_while_reports_from_before_the_table_may_be_missing():
    df = _table()
    out = add_issuer_reports(df, IssuerReports(max_delay_days=5), seed=0)
    warm = df["event_timestamp"] < df["event_timestamp"].min() + 12 * DAY
    assert out.loc[warm, ISSUER_FEATURES].isna().all().all()
    assert out.loc[~warm, ISSUER_FEATURES].notna().all().all()


def test_a_delay_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValidationError):
        IssuerReports(min_delay_days=3, max_delay_days=2)


def test_labels_whose_reports_would_arrive_after_t_never_change_the_features_at_t():
    # A transaction less than the shortest delay before the cut can only be reported
    # after it: flipping those labels (and all later ones) must leave rows <= cut alone.
    df = _table()
    params = IssuerReports(min_delay_days=1, max_delay_days=5)
    cut = T0 + 25 * DAY
    late = df["event_timestamp"] > cut - DAY
    flipped = df.assign(is_fraud=np.where(late, 1 - df["is_fraud"], df["is_fraud"]))
    a = add_issuer_reports(df, params, seed=1)
    b = add_issuer_reports(flipped, params, seed=1)
    upto = df["event_timestamp"] <= cut
    assert a.loc[upto, ISSUER_FEATURES].notna().any().all()
    pd.testing.assert_frame_equal(a.loc[upto, ISSUER_FEATURES], b.loc[upto, ISSUER_FEATURES])
    assert not a.loc[~upto, ISSUER_FEATURES].equals(b.loc[~upto, ISSUER_FEATURES])
