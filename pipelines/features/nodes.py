"""Pure, vectorised feature computations (no I/O).

Windows are exact and point-in-time: a transaction at time t sees, for its customer,
the transactions in (t - W, t) — strictly before it — and, for its terminal, the
transactions in (t - D - W, t - D] with their labels, D being the label delay. One row
per transaction keyed by (entity, t), so Feast's point-in-time join returns exactly
these values for a training row at t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.windows import (DAY_S, LABEL_DELAY_DAYS, WINDOWS_DAYS, customer_columns,
                              terminal_columns)


def _window_sums(
    key: np.ndarray, t: np.ndarray, values: list[np.ndarray],
    lo_offset: int, hi_offset: int, hi_inclusive: bool,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Count and sums of `values` over rows of the same key with time in
    (t - lo_offset, t - hi_offset) (or ... t - hi_offset] when hi_inclusive).

    `key` and `t` must be sorted by (key, t); times are int64 seconds.
    """
    if len(t) == 0:
        return np.zeros(0, np.int64), [np.zeros(0) for _ in values]
    rank = np.concatenate([[0], np.cumsum(key[1:] != key[:-1])])  # dense, sorted
    span = int(t.max() - t.min()) + lo_offset + 1
    base = rank * (2 * span) + (t - t.min())
    composite = base
    start = np.searchsorted(composite, base - lo_offset, side="right")
    end = np.searchsorted(composite, base - hi_offset, side="right" if hi_inclusive else "left")
    count = end - start
    sums = []
    for v in values:
        cs = np.concatenate([[0.0], np.cumsum(v, dtype=np.float64)])
        sums.append(cs[end] - cs[start])
    return count, sums


def customer_spending(tx: pd.DataFrame, windows_days=WINDOWS_DAYS) -> pd.DataFrame:
    """Per transaction: the customer's count and mean amount over each window before it."""
    tx = tx.sort_values(["customer_id", "timestamp"], kind="stable")
    key = tx["customer_id"].to_numpy()
    t = _seconds(tx["timestamp"])
    amount = tx["amount_minor"].to_numpy() / 100.0
    out = {"customer_id": key, "event_timestamp": tx["timestamp"].to_numpy()}
    for w in windows_days:
        count, (total,) = _window_sums(key, t, [amount], w * DAY_S, 0, hi_inclusive=False)
        n_col, avg_col = customer_columns(w)
        out[n_col] = count.astype(np.int64)
        out[avg_col] = np.divide(total, count, out=np.zeros_like(total),
                                                 where=count > 0)
    return _dedupe(pd.DataFrame(out), "customer_id")


def terminal_risk(
    tx: pd.DataFrame, windows_days=WINDOWS_DAYS, delay_days: int = LABEL_DELAY_DAYS
) -> pd.DataFrame:
    """Per transaction: the terminal's count and fraud share over windows ending D days before."""
    tx = tx.sort_values(["terminal_id", "timestamp"], kind="stable")
    key = tx["terminal_id"].to_numpy()
    t = _seconds(tx["timestamp"])
    fraud = tx["is_fraud"].to_numpy().astype(np.float64)
    out = {"terminal_id": key, "event_timestamp": tx["timestamp"].to_numpy()}
    d = delay_days * DAY_S
    for w in windows_days:
        count, (frauds,) = _window_sums(key, t, [fraud], d + w * DAY_S, d, hi_inclusive=True)
        n_col, share_col = terminal_columns(w)
        out[n_col] = count.astype(np.int64)
        out[share_col] = np.divide(frauds, count, out=np.zeros_like(frauds),
                                                  where=count > 0)
    return _dedupe(pd.DataFrame(out), "terminal_id")


def card_profile(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per card: its network and issuing country, stamped at first use."""
    first = tx.sort_values("timestamp", kind="stable").drop_duplicates("card_id")
    return pd.DataFrame({
        "card_id": first["card_id"].to_numpy(),
        "event_timestamp": first["timestamp"].to_numpy(),
        "card_network": first["card_network"].astype(str).to_numpy(),
        "issuing_country": first["issuing_country"].astype(str).to_numpy(),
    })


def _seconds(ts: pd.Series) -> np.ndarray:
    """Whole seconds since the epoch (the simulator's resolution)."""
    return ts.to_numpy().astype("datetime64[s]").astype(np.int64)


def _dedupe(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """Two transactions of one entity in the same instant see the same history: keep one."""
    return df.drop_duplicates([key, "event_timestamp"]).reset_index(drop=True)


def entity_rows(tx: pd.DataFrame) -> pd.DataFrame:
    """The entity dataframe for `get_historical_features`: keys, time and request fields."""
    ts = tx["timestamp"]
    return pd.DataFrame({
        "transaction_id": tx["transaction_id"].to_numpy(),
        "customer_id": tx["customer_id"].to_numpy(),
        "terminal_id": tx["terminal_id"].to_numpy(),
        "card_id": tx["card_id"].to_numpy(),
        "event_timestamp": ts.to_numpy(),
        "amount_minor": tx["amount_minor"].to_numpy(),
        "tx_epoch_s": (ts.to_numpy().astype("datetime64[s]").astype(np.int64)),
    })


def latest_windows(tx: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per customer and per terminal: the windows as of the second after its newest
    transaction, by the definitions above (what a live push writes, `features.fresh`).
    Rows keyed by the entity, `event_timestamp` its newest transaction's second."""
    out = []
    for key, table in (("customer_id", customer_spending),
                       ("terminal_id", terminal_risk)):
        latest = tx.groupby(key, sort=True)["timestamp"].max().dt.floor("s")
        probes = pd.DataFrame({key: latest.index.to_numpy(),
                               "timestamp": latest.to_numpy() + np.timedelta64(1, "s")})
        other = "terminal_id" if key == "customer_id" else "customer_id"
        probes = probes.assign(**{other: -1, "amount_minor": 0, "is_fraud": 0})
        cols = [key, other, "timestamp", "amount_minor", "is_fraud"]
        values = table(pd.concat([tx[cols], probes[cols]], ignore_index=True))
        at = values.merge(probes[[key, "timestamp"]], left_on=[key, "event_timestamp"],
                          right_on=[key, "timestamp"]).drop(columns="timestamp")
        at["event_timestamp"] = at["event_timestamp"] - np.timedelta64(1, "s")
        out.append(at.sort_values(key, ignore_index=True))
    return out[0], out[1]


def fresh_event_rows(tx: pd.DataFrame, kind: str
                     ) -> list[tuple[str, int, str, int, int]]:
    """Each transaction as an event-log row of its customer or terminal (`kind`):
    (kind, entity id, payment id, epoch s, amount minor)."""
    ids = tx[f"{kind}_id"].tolist()
    pid = ("tx-" + tx["transaction_id"].astype(str)).tolist()
    t, amount = _seconds(tx["timestamp"]).tolist(), tx["amount_minor"].tolist()
    return [(kind, e, p, s, a) for e, p, s, a in zip(ids, pid, t, amount)]
