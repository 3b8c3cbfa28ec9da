"""The handbook protocol: windows, delay, known-compromised cards, prequential folds."""

import pandas as pd
import pytest

from models.fraud.protocol import (
    Columns, Windows, handbook_split, nested_fraction_splits, prequential_splits,
    time_fraction_split)
from smartpay.errors import InputError

START = pd.Timestamp("2024-01-01")


def _frame(rows):
    """rows: (day offset, card, is_fraud) -> a frame with noon timestamps."""
    return pd.DataFrame({
        "event_timestamp": [START + pd.Timedelta(days=d, hours=12) for d, _, _ in rows],
        "card_id": [c for _, c, _ in rows], "is_fraud": [f for _, _, f in rows]})


def test_split_trains_on_week_one_and_tests_on_week_three():
    df = _frame([(d, 100 + d, 0) for d in range(25)])
    s = handbook_split(df, START, Windows(), Columns())
    days = (df["event_timestamp"] - START).dt.days.to_numpy()
    assert days[s.train].tolist() == list(range(0, 7))
    assert days[s.test].tolist() == list(range(14, 21))


def test_test_day_drops_cards_known_compromised_before_that_day_minus_delay():
    rows = [(2, 1, 1),    # card 1 fraud in training week: known from test day 14 on
            (9, 2, 1),    # card 2 fraud on day 9: known from test day 17 (9 < d - 7)
            (14, 1, 0), (16, 2, 0), (17, 2, 0), (15, 3, 0)]
    df = _frame(rows)
    s = handbook_split(df, START, Windows(), Columns())
    kept = df.iloc[s.test][["card_id"]].assign(day=(df.iloc[s.test]["event_timestamp"]
                                                    - START).dt.days)
    assert kept.values.tolist() == [[2, 16], [3, 15]]


def test_without_a_card_column_no_test_row_is_dropped():
    df = _frame([(2, 1, 1), (14, 1, 0)])
    s = handbook_split(df, START, Windows(), Columns(card=None))
    assert len(s.test) == 1


def test_prequential_folds_step_back_one_week_and_never_reach_the_test_window():
    df = _frame([(d, d, 0) for d in range(-40, 25)])
    folds = prequential_splits(df, START, Windows(n_folds=3), Columns())
    test_first = START + pd.Timedelta(days=14)
    assert [f.train_start for f in folds] == [START - pd.Timedelta(days=14 + 7 * k)
                                              for k in range(3)]
    for f in folds:
        assert df["event_timestamp"].iloc[f.test].max() < test_first


def test_fraction_split_keeps_later_rows_for_test_and_validation_inside_train():
    df = pd.DataFrame({"event_timestamp": pd.date_range("2024-01-01", periods=100, freq="h"),
                       "card_id": 1, "is_fraud": 0})
    outer, (val,) = nested_fraction_splits(df, Columns())
    assert outer.train.max() < outer.test.min()
    assert set(val.train) | set(val.test) <= set(outer.train)
    assert val.train.max() < val.test.min()


def test_fraction_split_of_a_single_instant_names_the_time_column():
    df = pd.DataFrame({"event_timestamp": [START] * 5, "card_id": 1, "is_fraud": 0})
    with pytest.raises(InputError, match="event_timestamp"):
        nested_fraction_splits(df, Columns())


def _hourly(n=100):
    return pd.DataFrame({"event_timestamp": pd.date_range("2024-01-01", periods=n,
                                                          freq="h"),
                         "card_id": 1, "is_fraud": 0})


def test_fraction_split_tests_the_latest_fifth_and_leaves_the_delay_out_of_training():
    df = _hourly()
    s = time_fraction_split(df, Columns(), delay=pd.Timedelta(hours=5))
    ts = df["event_timestamp"]
    assert len(s.test) == 20
    assert ts.iloc[s.train].max() + pd.Timedelta(hours=5) < ts.iloc[s.test].min()
    assert len(s.train) == 75  # 80 earlier rows minus the 5 h whose labels are not in


@pytest.mark.parametrize("kwargs, field", [({"test_share": 1.0}, "--test-fraction"),
                                           ({"test_share": 0.0}, "--test-fraction"),
                                           ({"delay": pd.Timedelta(days=30)}, "--delay"),
                                           ({"delay": pd.Timedelta(hours=-1)}, "--delay")])
def test_fraction_split_names_a_bad_fraction_or_delay(kwargs, field):
    df = _hourly()
    with pytest.raises(InputError, match=field):
        time_fraction_split(df, Columns(), **kwargs)
