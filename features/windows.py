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
