"""Payment gateways behind one contract: Stripe, Amazon Pay and Solana.

For the payment flow:

    from integrations.gateways import build_gateways, AuthorizeRequest, GatewayError
    gateways = build_gateways(settings)  # {"stripe": ResilientGateway, ...}
    result = await gateways["stripe"].authorize(AuthorizeRequest(...))

Every gateway is a `ResilientGateway` (timeouts, retries with backoff + jitter, its
own circuit breaker: `gateways[name].breaker.state`). Fail over to the next gateway
when a call raises a `GatewayError` whose `.retryable` is True (soft declines,
timeouts, network and 5xx errors, an open breaker); never after a hard decline.

The stand-ins these talk to locally live in the `harness` package, not here.
"""

from integrations.gateways.base import (
    AuthorizeRequest,
    ErrorKind,
    GatewayAdapter,
    GatewayError,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
)
from integrations.gateways.registry import build_gateways
from integrations.gateways.resilience import BreakerState, CircuitBreaker, ResilientGateway, RetryPolicy

__all__ = [
    "AuthorizeRequest", "BreakerState", "CircuitBreaker", "ErrorKind", "GatewayAdapter", "GatewayError",
    "PaymentResult", "PaymentStatus", "RefundResult", "RefundStatus", "ResilientGateway",
    "RetryPolicy", "build_gateways",
]
