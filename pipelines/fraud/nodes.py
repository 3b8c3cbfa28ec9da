"""Pure steps of the fraud pipelines (DataFrames and params in, DataFrames out)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from models.fraud.protocol import (
    Columns, Split, Windows, earliest_day_needed, last_full_test_start,
    nested_fraction_splits, handbook_split, prequential_splits)
from smartpay.errors import InputError

LABEL_COLUMNS = ["transaction_id", "is_fraud"]
KEY_COLUMNS = ["transaction_id", "customer_id", "terminal_id", "card_id", "event_timestamp"]


def service_features(feature_service: Any) -> list[str]:
    """Feature names of a Feast FeatureService, in its declared order."""
    return [f.name for p in feature_service.feature_view_projections for f in p.features]


def protocol_window(tx: pd.DataFrame, w: Windows, time_col: str = "timestamp",
                    weeks: int = 1) -> dict:
    """Newest protocol window: test start, first day needed, last day of data.

    With weeks > 1 the first day needed is that of the oldest of `weeks` consecutive
    test windows ending with the data (their folds start earlier)."""
    cols = Columns(time=time_col, label="is_fraud", card=None)
    start = last_full_test_start(tx, w, cols)
    oldest = start - (weeks - 1) * w.test_days * pd.Timedelta(days=1)
    return {"train_start": start, "first_day": earliest_day_needed(oldest, w),
            "end": start + pd.Timedelta(days=w.span_days)}


def rows_between(tx: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp,
                 time_col: str = "timestamp") -> pd.DataFrame:
    """Transactions with lo <= time < hi."""
    ts = tx[time_col]
    return tx[(ts >= lo) & (ts < hi)].reset_index(drop=True)


def join_labels(features: pd.DataFrame, tx: pd.DataFrame) -> pd.DataFrame:
    """Attach is_fraud by transaction_id; rows sorted by time then id (Feast reorders)."""
    out = features.merge(tx[LABEL_COLUMNS], on="transaction_id", how="inner",
                         validate="one_to_one")
    out["event_timestamp"] = pd.to_datetime(out["event_timestamp"]).dt.tz_localize(None)
    return out.sort_values(["event_timestamp", "transaction_id"]).reset_index(drop=True)


def reference_splits(df: pd.DataFrame, train_start: pd.Timestamp, w: Windows,
                     cols: Columns) -> tuple[Split, list[Split]]:
    """The handbook test split at train_start and its prequential validation folds."""
    return handbook_split(df, train_start, w, cols), prequential_splits(df, train_start,
                                                                          w, cols)


def table_splits(df: pd.DataFrame, cols: Columns, test_share: float = 0.2,
                 delay: pd.Timedelta = pd.Timedelta(0)) -> tuple[Split, list[Split]]:
    """Time-ordered splits of a bring-your-own table (later part tests)."""
    return nested_fraction_splits(df, cols, test_share, delay)


def parse_delay(text: str | None) -> pd.Timedelta:
    """A label delay like '7d', '12h' or '0' (none)."""
    if text is None or text.strip() in ("", "0"):
        return pd.Timedelta(0)
    try:
        return pd.Timedelta(seconds=parse_interval(text))
    except InputError:
        raise InputError("--delay", text, "a duration like 7d, 12h, 30m or 0") from None


def parse_interval(text: str) -> float:
    """Seconds in an interval like '24h', '30m', '45s' or '2d'."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not m or float(m.group(1)) <= 0:
        raise InputError("every", text, "a positive interval like 24h, 30m, 90s or 2d")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def window_summary(split: Split, test: pd.DataFrame, cols: Columns) -> dict[str, str]:
    """The data window of a run, as strings for MLflow params."""
    ts = pd.to_datetime(test[cols.time]) if len(test) else pd.Series(dtype="datetime64[ns]")
    return {"window.train_start": str(split.train_start), "window.end": str(split.test_end),
            "window.test_first": str(ts.min()), "window.test_last": str(ts.max())}


def comparison_rows(metrics: dict[str, dict[str, float | None]]) -> list[list[str]]:
    """Table rows (model, AUC, AP, CP@100) for printing."""
    def fmt(v):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"
    return [[name, fmt(m["auc"]), fmt(m["ap"]), fmt(m["cp100"])]
            for name, m in metrics.items()]


def interval_rows(block: dict) -> list[str]:
    """Printable lines: each model's metrics with intervals, then paired differences
    with 'WIN' only where the interval lies above zero."""
    def cell(stat: dict) -> str:
        if stat["value"] is None:
            return f"{'-':>22}"
        return f"{stat['value']:.3f} [{stat['lo']:.3f}, {stat['hi']:.3f}]".rjust(22)

    lines = [f"{'model':<46}" + "".join(f"{m:>22}" for m in ("AUC", "AP", "CP@100"))]
    for name, stats in block["models"].items():
        cells = "".join(cell(stats[m]) for m in ("auc", "ap", "cp100"))
        lines.append(f"{name:<46}{cells}")
    for name, stats in block["paired"].items():
        wins = [m for m in ("auc", "ap", "cp100") if stats[m]["win"]]
        lines.append(f"{name:<46}" + "".join(cell(stats[m]) for m in ("auc", "ap", "cp100"))
                     + f"  win: {','.join(wins) or 'none'}")
    return lines


def split_summary(df: pd.DataFrame, split: Split, cols: Columns, test_share: float,
                  delay: pd.Timedelta) -> dict[str, Any]:
    """Where a bring-your-own table was cut: last training time, first test time."""
    ts = df[cols.time]
    return {"test_fraction": test_share, "delay_s": delay.total_seconds(),
            "train_rows": len(split.train), "test_rows": len(split.test),
            "train_last": str(ts.iloc[split.train].max()),
            "test_first": str(ts.iloc[split.test].min())}


def terminal_first_week(tx: pd.DataFrame, delay_days: int = 7, window_days: int = 30
                        ) -> pd.Series:
    """True for a compromised-terminal fraud (simulator scenario 2) whose terminal had no
    such fraud in the `window_days` ending `delay_days` before it: the terminal risk
    features, which see labels only after the delay, cannot know yet (the blind spot).
    Indexed like `tx`; needs timestamp, terminal_id and fraud_scenario."""
    hits = tx.loc[tx["fraud_scenario"] == 2, ["timestamp", "terminal_id"]]
    hits = hits.assign(seen=hits["timestamp"] - pd.Timedelta(days=delay_days))
    prev = pd.merge_asof(
        hits.reset_index().sort_values("seen"),
        hits[["timestamp", "terminal_id"]].rename(columns={"timestamp": "prev"})
        .sort_values("prev"),
        left_on="seen", right_on="prev", by="terminal_id", direction="backward",
        allow_exact_matches=True)
    blind = prev["prev"].isna() | (prev["prev"] <= prev["seen"]
                                   - pd.Timedelta(days=window_days))
    out = pd.Series(False, index=tx.index)
    out.loc[prev["index"].to_numpy()] = blind.to_numpy()
    return out
