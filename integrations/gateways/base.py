"""The one contract every payment gateway adapter follows.

Adapters are stateless translators (Hyperswitch style): they turn our typed requests
into a gateway's protocol and its answers back into `PaymentResult`. Retries, the
circuit breaker and failover live elsewhere (`resilience.py`, the serving layer).
Gateway statuses map onto `PaymentStatus`; anything not explicitly final is PENDING.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from smartpay.errors import SmartPayError
from smartpay.money import check_currency


class PaymentStatus(StrEnum):
    """Our own payment status; gateway statuses are mapped onto it."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"


class RefundStatus(StrEnum):
    """Status of one refund."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ErrorKind(StrEnum):
    """How a failure should be handled by whoever called the gateway."""

    HARD_DECLINE = "hard_decline"  # the issuer said no: do not retry anywhere
    SOFT_DECLINE = "soft_decline"  # may succeed later or on another gateway
    TIMEOUT = "timeout"  # no answer in time: the request may have been processed
    NETWORK = "network"  # connection failed or dropped
    GATEWAY = "gateway"  # the gateway answered 5xx / unexpected
    INVALID_REQUEST = "invalid_request"  # our request is wrong for the payment's state
    AUTH = "auth"  # credentials or signature rejected
    CIRCUIT_OPEN = "circuit_open"  # the breaker refused the call without sending it


RETRYABLE_KINDS = frozenset(
    {ErrorKind.SOFT_DECLINE, ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.GATEWAY}
)
# Failures that may mean the gateway did the work although we saw no answer.
AMBIGUOUS_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.GATEWAY})
# Failures that count against a gateway's health in the circuit breaker.
HEALTH_KINDS = AMBIGUOUS_KINDS


class GatewayError(SmartPayError):
    """A classified gateway failure that keeps the gateway's own code.

    `gateway_ref` carries whatever reference was known before the failure (a Solana
    signature, an Amazon checkout session) so status sync can resolve ambiguity.
    `sent` is False when the request certainly never reached the gateway.
    """

    def __init__(
        self,
        gateway: str,
        kind: ErrorKind,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        gateway_ref: str | None = None,
        sent: bool = True,
    ) -> None:
        self.gateway, self.kind, self.code = gateway, kind, code
        self.http_status, self.gateway_ref, self.sent = http_status, gateway_ref, sent
        super().__init__(f"{gateway}: {kind.value} ({code or 'no code'}): {message}")

    @property
    def retryable(self) -> bool:
        """True when trying again (here or on another gateway) may succeed."""
        return self.kind in RETRYABLE_KINDS or self.kind == ErrorKind.CIRCUIT_OPEN

    @property
    def ambiguous(self) -> bool:
        """True when the gateway may have processed the request anyway."""
        return self.sent and self.kind in AMBIGUOUS_KINDS


class AuthorizeRequest(BaseModel):
    """Authorize (and optionally capture at once) one payment."""

    model_config = ConfigDict(frozen=True)

    payment_id: str = Field(min_length=1, max_length=64)
    amount_minor: int = Field(gt=0)
    currency: str
    payment_method: str = Field(min_length=1)
    capture: bool = True
    customer_ref: str | None = None
    idempotency_key: str | None = None

    def model_post_init(self, __context: object) -> None:
        """Validate the currency with the shared Money rules."""
        object.__setattr__(self, "currency", check_currency(self.currency))

    @property
    def key(self) -> str:
        """Idempotency key sent to gateways that accept one."""
        return self.idempotency_key or f"auth-{self.payment_id}"


class PaymentResult(BaseModel):
    """A gateway's view of one payment, mapped to our vocabulary."""

    gateway: str
    payment_id: str
    gateway_ref: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    captured_minor: int = 0
    refunded_minor: int = 0
    gateway_status: str = ""
    decline_code: str | None = None

    @property
    def refundable_minor(self) -> int:
        """What may still be refunded."""
        return max(self.captured_minor - self.refunded_minor, 0)

    @property
    def final(self) -> bool:
        """Only explicit success or failure is final."""
        return self.status not in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)


class RefundResult(BaseModel):
    """One refund as the gateway reports it."""

    gateway: str
    gateway_ref: str
    refund_ref: str
    refund_id: str
    amount_minor: int
    status: RefundStatus
    gateway_status: str = ""


@runtime_checkable
class GatewayAdapter(Protocol):
    """The protocol all gateways implement (async, stateless)."""

    name: str

    async def authorize(self, req: AuthorizeRequest) -> PaymentResult:
        """Authorize; capture at once when `req.capture`."""

    async def capture(
        self, gateway_ref: str, amount_minor: int | None = None, *, payment_id: str
    ) -> PaymentResult:
        """Capture an authorized payment (all of it by default)."""

    async def void(self, gateway_ref: str, *, payment_id: str) -> PaymentResult:
        """Release an authorization that was not captured."""

    async def refund(
        self, gateway_ref: str, amount_minor: int | None = None, *, refund_id: str
    ) -> RefundResult:
        """Refund all (default) or part of a captured payment."""

    async def sync(
        self, payment_id: str, gateway_ref: str | None = None
    ) -> PaymentResult | None:
        """Ask the gateway what happened; None when it never saw the payment."""

    async def aclose(self) -> None:
        """Release connections."""


def invalid(gateway: str, message: str, code: str) -> GatewayError:
    """An INVALID_REQUEST error raised before anything is sent."""
    return GatewayError(gateway, ErrorKind.INVALID_REQUEST, message, code=code, sent=False)


def refund_status_for(captured: int, refunded: int) -> PaymentStatus:
    """Status of a captured payment given how much of it was refunded."""
    if refunded <= 0:
        return PaymentStatus.CAPTURED
    return PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED
