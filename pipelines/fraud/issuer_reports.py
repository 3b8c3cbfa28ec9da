"""Early outcomes, second stream: issuer fraud reports as terminal features (pure).

The simulator has no issuers, so the stream is an explicit, seeded assumption of the
evaluation, not something the data shows: each fraud is reported, independently with
probability `share`, by the cardholder's issuer after a delay drawn uniformly from
[`min_delay_days`, `max_delay_days`] (defaults 0.5, 1 and 5 days); genuine transactions
are never reported (no false reports). A report names the transaction, hence its
terminal, and is known from `transaction time + delay` on. Unlike review verdicts,
the stream does not depend on what a model flagged, so it can reach a terminal no
model suspects yet.

A row at t sees, for its terminal, only reports known in [t - window, t), strictly
before it (so a row never sees its own report, whatever the delay):
`term_issuer_frauds_1d`, `term_issuer_frauds_7d` (counts) and
`term_issuer_fraud_share_7d` (reports of the last 7 days per transaction the terminal
handled in the 7 days before t, 0 when it handled none). Serving has no report feed,
so the served model never reads these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from pipelines.fraud.early_outcomes import count_in_window

ISSUER_FEATURES = ["term_issuer_frauds_1d", "term_issuer_frauds_7d",
                   "term_issuer_fraud_share_7d"]
DAY_S = 86_400


class IssuerReports(BaseModel):
    """The assumed issuer report stream (see the module docstring)."""

    share: float = Field(0.5, ge=0.0, le=1.0)
    min_delay_days: float = Field(1.0, ge=0.0)
    max_delay_days: float = Field(5.0, ge=0.0)

    @model_validator(mode="after")
    def _ordered(self) -> IssuerReports:
        if self.max_delay_days < self.min_delay_days:
            raise ValueError("max_delay_days must be >= min_delay_days")
        return self


def _seconds(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy().astype("datetime64[s]").astype(np.int64)


def report_times(df: pd.DataFrame, params: IssuerReports, seed: int,
                 label: str = "is_fraud", time_col: str = "event_timestamp"
                 ) -> np.ndarray:
    """Per row: when its issuer report becomes known (epoch seconds), -1 if never.

    One uniform draw per row for "reported?" and one for the delay, in row order, so a
    row's outcome does not depend on the labels of other rows."""
    rng = np.random.default_rng([seed, 18])
    reported = (df[label].to_numpy() == 1) & (rng.random(len(df)) < params.share)
    lo, hi = params.min_delay_days * DAY_S, params.max_delay_days * DAY_S
    delay = np.floor(lo + rng.random(len(df)) * (hi - lo)).astype(np.int64)
    return np.where(reported, _seconds(df[time_col]) + delay, -1)


def terminal_reports(df: pd.DataFrame, known_s: np.ndarray,
                     time_col: str = "event_timestamp", terminal: str = "terminal_id"
                     ) -> pd.DataFrame:
    """Per row: the ISSUER_FEATURES of its terminal from reports known at its time."""
    t = _seconds(df[time_col])
    term = df[terminal].to_numpy()
    rep = known_s >= 0
    # Events in (t - 1 - w, t - 1] = [t - w, t) in whole seconds: strictly before t.
    counts = {w: count_in_window(term, t - 1, term[rep], known_s[rep], w * DAY_S)
              for w in (1, 7)}
    handled = count_in_window(term, t - 1, term, t, 7 * DAY_S)
    share = np.divide(counts[7], handled, out=np.zeros(len(t)), where=handled > 0)
    return pd.DataFrame({ISSUER_FEATURES[0]: counts[1], ISSUER_FEATURES[1]: counts[7],
                         ISSUER_FEATURES[2]: share}, index=df.index)


def add_issuer_reports(df: pd.DataFrame, params: IssuerReports, seed: int,
                       label: str = "is_fraud") -> pd.DataFrame:
    """df with ISSUER_FEATURES added; NaN while reports of frauds before the table's
    first row could still be missing from a window (the first max delay + 7 days)."""
    known = report_times(df, params, seed, label)
    feats = terminal_reports(df, known).astype(float)
    t = df["event_timestamp"]
    warm = t < t.min() + pd.Timedelta(days=params.max_delay_days + 7)
    feats[warm.to_numpy()] = np.nan
    return pd.concat([df, feats], axis=1)
