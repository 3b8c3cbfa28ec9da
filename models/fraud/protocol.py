"""The handbook's evaluation protocol on a DataFrame of labelled, featured transactions.

Train on `train_days`, skip `delay_days` (labels of recent transactions are not known
yet in production), test on `test_days`; on each test day drop the cards already known
to be compromised as of that day minus the delay, since an investigator would have
blocked them. Model selection uses prequential folds: the same split shifted back in
time by one test period per fold, so validation never touches the test window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from smartpay.errors import InputError

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Columns:
    """Which columns of a table hold the time, the label and the card (if any)."""

    time: str = "event_timestamp"
    label: str = "is_fraud"
    card: str | None = "card_id"


@dataclass(frozen=True)
class Windows:
    """Lengths of the protocol windows in days and the number of validation folds."""

    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7
    n_folds: int = 4

    @property
    def span_days(self) -> int:
        """Days from the start of a training window to the end of its test window."""
        return self.train_days + self.delay_days + self.test_days


@dataclass(frozen=True)
class Split:
    """One train/test pair of row positions plus the window it covers."""

    train: np.ndarray
    test: np.ndarray
    train_start: pd.Timestamp
    test_end: pd.Timestamp


def day_number(ts: pd.Series) -> np.ndarray:
    """Whole days since the epoch (UTC) for each timestamp."""
    values = pd.to_datetime(ts).astype("datetime64[ns]").to_numpy()
    return values.astype("datetime64[D]").astype(np.int64)


def handbook_split(
    df: pd.DataFrame, train_start: pd.Timestamp, w: Windows, cols: Columns
) -> Split:
    """Train week, delay, test week with known-compromised cards removed per test day."""
    day = day_number(df[cols.time])
    d0 = int(day_number(pd.Series([train_start]))[0])
    train = np.flatnonzero((day >= d0) & (day < d0 + w.train_days))
    t_lo = d0 + w.train_days + w.delay_days
    in_test = (day >= t_lo) & (day < t_lo + w.test_days)
    if cols.card is not None:
        in_test &= ~_known_compromised(df, day, d0, w.delay_days, cols)
    end = train_start.normalize() + w.span_days * DAY
    return Split(train, np.flatnonzero(in_test), train_start.normalize(), end)


def _known_compromised(
    df: pd.DataFrame, day: np.ndarray, d0: int, delay: int, cols: Columns
) -> np.ndarray:
    """True where the row's card had a fraud on a day in [d0, row day - delay)."""
    fraud = (df[cols.label].to_numpy() == 1) & (day >= d0)
    cards = df[cols.card].to_numpy()
    first = pd.Series(day[fraud]).groupby(cards[fraud]).min()
    first_day = pd.Series(cards).map(first).to_numpy(dtype=float)
    return first_day < (day - delay)


def last_full_test_start(df: pd.DataFrame, w: Windows, cols: Columns) -> pd.Timestamp:
    """Training start whose test window ends on the last full day of the data."""
    last_day = pd.to_datetime(df[cols.time]).max().normalize()
    return last_day - (w.span_days - 1) * DAY


def prequential_splits(
    df: pd.DataFrame, test_train_start: pd.Timestamp, w: Windows, cols: Columns
) -> list[Split]:
    """Validation folds ending where the test training window starts, back in time."""
    first = test_train_start - (w.delay_days + w.test_days) * DAY
    starts = [first - k * w.test_days * DAY for k in range(w.n_folds)]
    return [handbook_split(df, s, w, cols) for s in starts]


def earliest_day_needed(test_train_start: pd.Timestamp, w: Windows) -> pd.Timestamp:
    """First day of data the protocol reads (the oldest fold's training start)."""
    first = test_train_start - (w.delay_days + w.test_days) * DAY
    return first - (w.n_folds - 1) * w.test_days * DAY


def time_fraction_split(
    df: pd.DataFrame, cols: Columns, test_share: float = 0.2,
    delay: pd.Timedelta = pd.Timedelta(0),
) -> Split:
    """The last `test_share` of the time span's rows test; rows earlier than the cut by
    more than `delay` train (labels of the `delay` before the cut are not known yet)."""
    if not 0 < test_share < 1:
        raise InputError("--test-fraction", test_share, "a number between 0 and 1")
    if delay < pd.Timedelta(0):
        raise InputError("--delay", str(delay), "a duration >= 0")
    ts = pd.to_datetime(df[cols.time])
    cut = ts.quantile(1 - test_share)
    train, test = np.flatnonzero(ts < cut - delay), np.flatnonzero(ts >= cut)
    if len(test) == 0 or ts.min() >= cut:
        raise InputError(cols.time, f"{ts.min()}..{ts.max()}",
                         "timestamps spread enough to cut an earlier and a later part")
    if len(train) == 0:
        raise InputError("--delay", str(delay), f"a delay shorter than the "
                         f"{cut - ts.min()} between the first row and the test cut")
    return Split(train, test, ts.min(), ts.max())


def nested_fraction_splits(
    df: pd.DataFrame, cols: Columns, test_share: float = 0.2,
    delay: pd.Timedelta = pd.Timedelta(0),
) -> tuple[Split, list[Split]]:
    """Test split plus one validation split cut the same way inside the training part."""
    outer = time_fraction_split(df, cols, test_share, delay)
    inner = time_fraction_split(df.iloc[outer.train], cols, test_share, delay)
    val = Split(outer.train[inner.train], outer.train[inner.test],
                inner.train_start, inner.test_end)
    return outer, [val]
