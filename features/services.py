"""Versioned FeatureServices: training and serving ask for these by name."""

from feast import FeatureService

from features.on_demand import transaction_context
from features.views.customer import customer_spending
from features.views.gateway import gateway_stats
from features.views.terminal import terminal_activity, terminal_risk

# Everything the fraud detector v1 reads, in training and in serving alike.
fraud_model_v1 = FeatureService(
    name="fraud_model_v1",
    features=[customer_spending, terminal_activity, terminal_risk, transaction_context],
    description="Inputs of fraud-detector v1.",
)

# What the gateway router v1 reads from the store: each gateway's statistics in the
# payment's segment (its VW action features; the payment context comes with the request).
routing_v1 = FeatureService(
    name="routing_v1",
    features=[gateway_stats],
    description="Inputs of gateway-router v1: gateway success rates and latency per segment.",
)
