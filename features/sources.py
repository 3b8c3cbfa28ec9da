"""Offline sources (parquet written by `smartpay features build`) and request-time data.

Paths are relative to the store's repo path (the `feast/` folder of the data dir), so
one set of definitions serves every data dir and profile.
"""

from feast import Field, FileSource, PushSource, RequestSource
from feast.types import Int64

# Per-transaction customer spending windows (strictly before each transaction).
customer_spending_source = FileSource(
    name="customer_spending_source", path="tables/customer_spending.parquet",
    timestamp_field="event_timestamp",
    description="Customer counts and mean amounts over 1/7/30 days before each transaction.",
)

# Per-transaction terminal risk windows, shifted by the label delay.
terminal_risk_source = FileSource(
    name="terminal_risk_source", path="tables/terminal_risk.parquet",
    timestamp_field="event_timestamp",
    description="Terminal counts and fraud shares over windows ending 7 days before.",
)

# Live payments push the customer windows they change (`features.fresh`); the batch
# source above stays what training reads and what `materialize` loads.
customer_spending_push = PushSource(
    name="customer_spending_push", batch_source=customer_spending_source,
    description="Customer windows recomputed online after each payment.",
)

# Live payments push the terminal counts (labels are not known yet, so never the
# fraud shares); backed by the same table as the terminal risk view.
terminal_activity_push = PushSource(
    name="terminal_activity_push", batch_source=terminal_risk_source,
    description="Terminal counts recomputed online after each payment.",
)

# Static card attributes, stamped when the card is first seen.
card_profile_source = FileSource(
    name="card_profile_source", path="tables/card_profile.parquet",
    timestamp_field="event_timestamp",
    description="Card network and issuing country per card.",
)

# What only the incoming request knows: the amount and the time of the payment.
transaction_request = RequestSource(
    name="transaction_request",
    schema=[Field(name="amount_minor", dtype=Int64), Field(name="tx_epoch_s", dtype=Int64)],
    description="Amount in minor units and Unix time (s) of the payment being scored.",
)
