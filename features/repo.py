"""Every Feast object of the repository, for the stock Feast CLI (`feast plan|apply|ui`).

`.feastignore` hides the other modules from the CLI, so each object is imported once, as
part of the `features` package (also what `features.store.definitions` returns).
"""

from features.entities import card, customer, terminal  # noqa: F401
from features.on_demand import transaction_context  # noqa: F401
from features.services import fraud_model_v1, routing_v1  # noqa: F401
from features.sources import (  # noqa: F401
    card_profile_source,
    customer_spending_push,
    customer_spending_source,
    terminal_activity_push,
    terminal_risk_source,
)
from features.sources_gateway import (  # noqa: F401
    gateway_segment,
    gateway_stats_push,
    gateway_stats_source,
)
from features.views.card import card_profile  # noqa: F401
from features.views.customer import customer_spending  # noqa: F401
from features.views.gateway import gateway_stats  # noqa: F401
from features.views.terminal import terminal_activity, terminal_risk  # noqa: F401
