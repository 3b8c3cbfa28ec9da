"""The handbook's own 15 features, derived from fraud_model_v1's columns (pure).

"Reproducible Machine Learning for Credit Card Fraud Detection" trains on TX_AMOUNT,
TX_DURING_WEEKEND, TX_DURING_NIGHT, the customer's number of transactions and mean
amount over 1, 7 and 30 days, and the terminal's number of transactions and fraud
risk over 1, 7 and 30 days ending a 7-day delay before the transaction. Our
FeatureService differs in two ways, both undone here for a like-for-like anchor row:

- it adds `amount_to_cust_avg_30d` (dropped);
- its customer windows are (t - W, t), strictly before the transaction, while the
  handbook's pandas rolling windows (t - W, t] include the transaction itself: its
  count is ours + 1 and its mean amount includes the current amount.

The terminal windows (t - 7 d - W, t - 7 d] with count and fraud share, the night flag
(hour <= 6) and the weekend flag (Saturday, Sunday) are the same definitions.
"""

from __future__ import annotations

import pandas as pd

WINDOWS = (1, 7, 30)
HANDBOOK_FEATURES = (
    ["hb_tx_amount", "hb_tx_during_weekend", "hb_tx_during_night"]
    + [f"hb_customer_{kind}_{w}day_window" for w in WINDOWS
       for kind in ("nb_tx", "avg_amount")]
    + [f"hb_terminal_{kind}_{w}day_window" for w in WINDOWS
       for kind in ("nb_tx", "risk")])


def handbook_features(df: pd.DataFrame) -> pd.DataFrame:
    """The HANDBOOK_FEATURES of each row of a fraud_model_v1 frame (same index)."""
    amount = df["amount"].astype(float)
    out = {"hb_tx_amount": amount, "hb_tx_during_weekend": df["is_weekend"],
           "hb_tx_during_night": df["is_night"]}
    for w in WINDOWS:
        n, avg = df[f"cust_tx_count_{w}d"], df[f"cust_avg_amount_{w}d"]
        out[f"hb_customer_nb_tx_{w}day_window"] = n + 1
        out[f"hb_customer_avg_amount_{w}day_window"] = (n * avg + amount) / (n + 1)
    for w in WINDOWS:
        out[f"hb_terminal_nb_tx_{w}day_window"] = df[f"term_tx_count_{w}d"]
        out[f"hb_terminal_risk_{w}day_window"] = df[f"term_fraud_share_{w}d"]
    return pd.DataFrame(out, index=df.index)[HANDBOOK_FEATURES]


def add_handbook_features(df: pd.DataFrame) -> pd.DataFrame:
    """df with the HANDBOOK_FEATURES columns added."""
    return pd.concat([df, handbook_features(df)], axis=1)
