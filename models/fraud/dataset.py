"""Checks that a table can train a fraud model, with errors naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.fraud.protocol import Columns
from smartpay.errors import InputError


def check_columns(df: pd.DataFrame, cols: Columns) -> None:
    """Every named column exists."""
    for field, name in (("--label", cols.label), ("--time", cols.time), ("--id", cols.card)):
        if name is not None and name not in df.columns:
            raise InputError(field, name, f"a column of the table ({sorted(df.columns)})")


def check_label(df: pd.DataFrame, label: str) -> None:
    """The label is binary 0/1 (bools allowed) and both classes occur."""
    values = pd.unique(df[label].dropna())
    if df[label].isna().any() or not set(values.tolist()) <= {0, 1}:
        shown = sorted(map(str, values))[:5]
        raise InputError("--label", label, f"a binary 0/1 column, found values {shown}")
    if len(values) < 2:
        raise InputError("--label", label,
                         f"both classes 0 and 1, found only {values.tolist()}")


def parse_time(df: pd.DataFrame, time_col: str) -> pd.Series:
    """The time column as naive UTC timestamps; unparseable values are an error."""
    s = df[time_col]
    try:
        ts = pd.to_datetime(s, unit="s") if pd.api.types.is_numeric_dtype(s) else \
            pd.to_datetime(s, utc=True).dt.tz_localize(None)
    except (ValueError, TypeError):
        raise InputError("--time", time_col, "timestamps or Unix seconds") from None
    if ts.isna().any():
        raise InputError("--time", time_col, "no missing timestamps")
    return ts


def feature_columns(df: pd.DataFrame, cols: Columns) -> list[str]:
    """Numeric and boolean columns other than label, time and id, in table order."""
    skip = {cols.label, cols.time, cols.card}
    feats = [c for c in df.columns if c not in skip and (
        pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    if not feats:
        raise InputError("table", list(df.columns), "at least one numeric feature column")
    return feats


def time_features(df: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """Features the time column yields: hour of day, day of week (Monday = 0) and,
    with an id column, seconds since the same id's previous event (NaN for its first).

    `df` must be sorted by time; only earlier rows are read, so nothing leaks."""
    ts = df[cols.time]
    out = pd.DataFrame({f"{cols.time}_hour": ts.dt.hour + ts.dt.minute / 60,
                        f"{cols.time}_day_of_week": ts.dt.dayofweek}, index=df.index)
    if cols.card is not None:
        gap = ts.groupby(df[cols.card], sort=False).diff().dt.total_seconds()
        out[f"{cols.time}_since_prev_{cols.card}_s"] = gap
    taken = [c for c in out.columns if c in df.columns]
    if taken:
        raise InputError("table", taken, "no column named like a derived time feature")
    return out.astype("float64")


def prepare_table(df: pd.DataFrame, cols: Columns) -> tuple[pd.DataFrame, list[str]]:
    """A checked copy sorted by time (label as int), time features added, plus its
    feature list (the table's numeric columns, then the time features)."""
    check_columns(df, cols)
    check_label(df, cols.label)
    out = df.copy()
    out[cols.time] = parse_time(out, cols.time)
    out[cols.label] = out[cols.label].astype(np.int64)
    feats = feature_columns(out, cols)
    out[feats] = out[feats].astype("float64")
    out = out.sort_values(cols.time, kind="stable").reset_index(drop=True)
    derived = time_features(out, cols)
    return pd.concat([out, derived], axis=1), feats + list(derived.columns)
