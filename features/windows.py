"""Window lengths and the label delay, shared by the views and both feature engines."""

DAY_S = 86_400
# Look-back windows of the customer and terminal features, in days.
WINDOWS_DAYS = (1, 7, 30)
# Fraud labels are known this many days after a transaction; terminal windows end then.
LABEL_DELAY_DAYS = 7


def customer_columns(w: int) -> tuple[str, str]:
    """(count, mean amount) column names of the customer window of `w` days."""
    return f"cust_tx_count_{w}d", f"cust_avg_amount_{w}d"


def terminal_columns(w: int) -> tuple[str, str]:
    """(count, fraud share) column names of the terminal window of `w` days."""
    return f"term_tx_count_{w}d", f"term_fraud_share_{w}d"


# Online windows (`features.fresh`) in whole seconds: as of instant s, a window holds
# the events e with s - lo <= e < s - hi, (lo, hi) being its offsets below. They are
# the offline windows of `pipelines.features.nodes` written as integer bounds.
def customer_offsets(w: int) -> tuple[int, int]:
    """(lo, hi) of the customer window of `w` days: (s - W, s), strictly before s."""
    return w * DAY_S - 1, 0


def terminal_offsets(w: int, delay_days: int = LABEL_DELAY_DAYS) -> tuple[int, int]:
    """(lo, hi) of the terminal window of `w` days: (s - D - W, s - D], D the delay."""
    d = delay_days * DAY_S
    return d + w * DAY_S - 1, d - 1
