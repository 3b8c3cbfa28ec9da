"""Review verdicts as terminal features: point in time, no label seen before it exists."""

import numpy as np
import pandas as pd

from pipelines.fraud.early_outcomes import (
    EARLY_FEATURES, add_early_outcomes, deployed_scores, review_flags, terminal_verdicts,
    week_blocks)

T0 = pd.Timestamp("2024-01-01")


def _table(n=3000, days=49, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = T0 + pd.to_timedelta(np.sort(rng.integers(0, days * 86_400, n)), unit="s")
    f1, f2 = rng.random(n), rng.random(n)
    y = (rng.random(n) < np.where(f1 > 0.9, 0.5, 0.02)).astype(int)
    return pd.DataFrame({"event_timestamp": t, "terminal_id": rng.integers(0, 15, n),
                         "f1": f1, "f2": f2, "is_fraud": y})


def test_a_row_sees_exactly_the_verdicts_known_in_the_week_before_it():
    df = _table(800)
    flags = np.random.default_rng(1).random(len(df)) < 0.3
    got = terminal_verdicts(df, flags)
    t, day = df["event_timestamp"], pd.Timedelta(days=1)
    for i in range(0, len(df), 7):
        known = t[flags] + day
        seen = (df["terminal_id"][flags] == df["terminal_id"][i]) & \
            (known <= t[i]) & (known > t[i] - 7 * day)
        frauds = (df["is_fraud"][flags][seen] == 1).sum()
        assert got["term_reviews_7d"][i] == seen.sum()
        assert got["term_review_frauds_7d"][i] == frauds


def test_the_deployed_model_of_a_week_never_trains_on_that_week_or_the_one_before():
    df = _table()
    blocks = week_blocks(df["event_timestamp"])
    before = deployed_scores(df, ["f1", "f2"], "is_fraud", blocks)
    flipped = df.assign(is_fraud=np.where(blocks >= 4, 1 - df["is_fraud"], df["is_fraud"]))
    after = deployed_scores(flipped, ["f1", "f2"], "is_fraud", blocks)
    assert np.array_equal(before[blocks <= 5], after[blocks <= 5], equal_nan=True)
    assert not np.allclose(before[blocks == 6], after[blocks == 6])
    assert np.isnan(before[blocks < 2]).all() and not np.isnan(before[blocks >= 2]).any()


def test_review_flags_take_the_threshold_from_the_previous_weeks_scores():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.25, 0.35, 0.05])
    blocks = np.array([0, 0, 0, 0, 1, 1, 1])
    # week 0's 75 % quantile is 0.45: in week 1 nothing reaches it; its median is 0.25:
    # 0.25 and 0.35 reach it. Week 0 has no past week, so nothing there is flagged.
    assert review_flags(scores, blocks, rate=0.25).tolist() == [False] * 7
    assert review_flags(scores, blocks, rate=0.5).tolist() == [False] * 4 + [True, True,
                                                                             False]


def test_early_outcome_features_of_a_row_ignore_labels_not_yet_known_at_its_time():
    # Change every label whose verdict would arrive after the cut: no row up to the cut
    # may change (deployed models, thresholds and verdicts are all point in time).
    df = _table()
    cut = T0 + pd.Timedelta(days=38)
    late = df["event_timestamp"] > cut - pd.Timedelta(days=1)
    changed = df.assign(is_fraud=np.where(late, 1 - df["is_fraud"], df["is_fraud"]))
    a = add_early_outcomes(df, ["f1", "f2"])
    b = add_early_outcomes(changed, ["f1", "f2"])
    upto = df["event_timestamp"] <= cut
    assert a.loc[upto, EARLY_FEATURES].notna().any().all()
    pd.testing.assert_frame_equal(a.loc[upto, EARLY_FEATURES], b.loc[upto, EARLY_FEATURES])
    assert not a.loc[~upto, EARLY_FEATURES].equals(b.loc[~upto, EARLY_FEATURES])
