"""Customer spending habits: how often and how much a customer usually spends."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from features.entities import customer
from features.sources import customer_spending_push
from features.windows import WINDOWS_DAYS, customer_columns

# Counts and mean amounts (major units) of the customer's earlier transactions; loaded
# by `materialize`, then pushed after every payment of the customer.
customer_spending = FeatureView(
    name="customer_spending",
    entities=[customer],
    ttl=timedelta(days=30),
    schema=[Field(name=customer_columns(w)[0], dtype=Int64) for w in WINDOWS_DAYS]
    + [Field(name=customer_columns(w)[1], dtype=Float64) for w in WINDOWS_DAYS],
    source=customer_spending_push,
    online=True,
    description="Customer transaction count and mean amount over 1/7/30 days.",
    tags={"model": "fraud"},
)
