"""Request-time features computed from the payment itself plus stored customer habits."""

from typing import Any

from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from features.sources import transaction_request
from features.views.customer import customer_spending


# Night and weekend flags, the amount, and the amount relative to the customer's habit.
# Python mode (dict of lists) rather than pandas: building a DataFrame per online request
# costs ~14 ms, plain Python costs microseconds, and offline retrieval works the same.
@on_demand_feature_view(
    sources=[customer_spending, transaction_request],
    schema=[
        Field(name="amount", dtype=Float64),
        Field(name="is_night", dtype=Int64),
        Field(name="is_weekend", dtype=Int64),
        Field(name="amount_to_cust_avg_30d", dtype=Float64),
    ],
    mode="python",
    description="Request-time transaction context features.",
)
def transaction_context(inputs: dict[str, Any]) -> dict[str, Any]:
    """Derive time flags and the amount ratio; a customer with no history gets ratio 1.

    Feast ships this function's source to wherever it runs, so it names no module-level
    constant: night is 00:00-06:59 (UTC) as in the handbook, weekend is Saturday/Sunday.
    """
    out = {"amount": [], "is_night": [], "is_weekend": [], "amount_to_cust_avg_30d": []}
    for minor, epoch, avg in zip(inputs["amount_minor"], inputs["tx_epoch_s"],
                                 inputs["cust_avg_amount_30d"]):
        amount = float(minor) / 100.0
        seconds = int(epoch)
        out["amount"].append(amount)
        out["is_night"].append(int((seconds % 86_400) // 3_600 <= 6))
        out["is_weekend"].append(int(((seconds // 86_400) + 3) % 7 >= 5))  # 1970-01-01 = Thu
        out["amount_to_cust_avg_30d"].append(amount / avg if avg and avg > 0 else 1.0)
    return out
