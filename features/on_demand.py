"""Request-time features computed from the payment itself plus stored customer habits."""

import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from features.sources import transaction_request
from features.views.customer import customer_spending

# Night and weekend flags, the amount, and the amount relative to the customer's habit.
@on_demand_feature_view(
    sources=[customer_spending, transaction_request],
    schema=[
        Field(name="amount", dtype=Float64),
        Field(name="is_night", dtype=Int64),
        Field(name="is_weekend", dtype=Int64),
        Field(name="amount_to_cust_avg_30d", dtype=Float64),
    ],
    mode="pandas",
    description="Request-time transaction context features.",
)
def transaction_context(inputs: pd.DataFrame) -> pd.DataFrame:
    """Derive time flags and the amount ratio; a customer with no history gets ratio 1.

    Feast ships this function's source to wherever it runs, so it names no module-level
    constant: night is 00:00-06:59 as in the handbook.
    """
    import pandas as pd

    ts = pd.to_datetime(inputs["tx_epoch_s"].astype("int64"), unit="s")
    amount = inputs["amount_minor"].astype("float64") / 100.0
    avg = pd.to_numeric(inputs["cust_avg_amount_30d"], errors="coerce").astype("float64")
    ratio = (amount / avg).where(avg > 0, 1.0).fillna(1.0)
    return pd.DataFrame({
        "amount": amount,
        "is_night": (ts.dt.hour <= 6).astype("int64"),
        "is_weekend": (ts.dt.dayofweek >= 5).astype("int64"),
        "amount_to_cust_avg_30d": ratio,
    })
