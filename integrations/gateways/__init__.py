"""Payment gateways behind one contract: Stripe, Amazon Pay and Solana.

For the payment flow:

    from integrations.gateways import build_gateways, AuthorizeRequest, GatewayError
    gateways = build_gateways()          # {"stripe": ResilientGateway, ...} from settings
    result = await gateways["stripe"].authorize(AuthorizeRequest(...))

Every gateway is a `ResilientGateway` (timeouts, retries with backoff + jitter, its
own circuit breaker: `gateways[name].breaker.state`). Fail over to the next gateway
when a call raises a `GatewayError` whose `.retryable` is True (soft declines,
timeouts, network and 5xx errors, an open breaker); never after a hard decline.

For the demo, `integrations.gateways.local.local_gateways(data_dir)` starts
localstripe, the Amazon Pay sandbox and a LiteSVM chain in process and yields the
same adapters pointed at them, plus usable payment methods.
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
from integrations.gateways.config import GatewaySettings
from integrations.gateways.registry import build_gateways
from integrations.gateways.resilience import BreakerState, CircuitBreaker, ResilientGateway, RetryPolicy

__all__ = [
    "AuthorizeRequest", "BreakerState", "CircuitBreaker", "ErrorKind", "GatewayAdapter", "GatewayError",
    "GatewaySettings", "PaymentResult", "PaymentStatus", "RefundResult", "RefundStatus", "ResilientGateway",
    "RetryPolicy", "build_gateways",
]
