"""Pure conversions between our types and Stripe PaymentIntents (plain dicts).

Works for real Stripe and for localstripe, which differs in places: `latest_charge`
may come expanded or as an id, `amount_captured` may be missing, decline codes are
absent. No I/O here.
"""

from __future__ import annotations

from integrations.gateways.base import (
    AuthorizeRequest,
    ErrorKind,
    GatewayError,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
    refund_status_for,
)

NAME = "stripe"
# Stripe decline codes after which a retry (later or elsewhere) may succeed.
SOFT_DECLINE_CODES = frozenset(
    {
        "try_again_later", "processing_error", "issuer_not_available",
        "reenter_transaction", "approve_with_id", "call_issuer", "rate_limit",
        "authentication_required",
    }
)
_SIMPLE = {
    "requires_confirmation": PaymentStatus.PENDING,
    "processing": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_capture": PaymentStatus.AUTHORIZED,
    "canceled": PaymentStatus.VOIDED,
}
_REFUND = {"succeeded": RefundStatus.SUCCEEDED, "failed": RefundStatus.FAILED,
           "canceled": RefundStatus.FAILED}


def intent_params(req: AuthorizeRequest) -> dict:
    """PaymentIntent create+confirm parameters (no `description`: localstripe rejects it)."""
    return {
        "amount": req.amount_minor,
        "currency": req.currency.lower(),
        "payment_method": req.payment_method,
        "payment_method_types": ["card"],
        "confirm": True,
        "capture_method": "automatic" if req.capture else "manual",
        "metadata": {"payment_id": req.payment_id},
    }


def charge_of(intent: dict) -> dict | None:
    """The intent's latest charge as a dict, whichever way it was returned."""
    latest = intent.get("latest_charge")
    if isinstance(latest, dict):
        return latest
    charges = (intent.get("charges") or {}).get("data") or []
    return charges[0] if charges else None


def captured_and_refunded(charge: dict | None) -> tuple[int, int]:
    """(captured, refunded) minor units of a charge; uncaptured charges count 0."""
    if not charge or not charge.get("captured"):
        return 0, 0
    captured = charge.get("amount_captured") or charge.get("amount") or 0
    return int(captured), int(charge.get("amount_refunded") or 0)


def map_status(intent: dict, captured: int, refunded: int) -> PaymentStatus:
    """Stripe intent status -> ours; unknown stays PENDING."""
    status = intent.get("status", "")
    if status == "succeeded":
        return refund_status_for(captured, refunded)
    if status == "requires_payment_method":
        return PaymentStatus.FAILED if intent.get("last_payment_error") else PaymentStatus.PENDING
    return _SIMPLE.get(status, PaymentStatus.PENDING)


def to_result(intent: dict, payment_id: str | None = None) -> PaymentResult:
    """A PaymentIntent dict -> PaymentResult."""
    charge = charge_of(intent)
    captured, refunded = captured_and_refunded(charge)
    error = intent.get("last_payment_error") or {}
    return PaymentResult(
        gateway=NAME,
        payment_id=payment_id or (intent.get("metadata") or {}).get("payment_id", ""),
        gateway_ref=intent["id"],
        status=map_status(intent, captured, refunded),
        amount_minor=int(intent.get("amount") or 0),
        currency=str(intent.get("currency", "")).upper(),
        captured_minor=captured,
        refunded_minor=refunded,
        gateway_status=intent.get("status", ""),
        decline_code=error.get("decline_code") or error.get("code"),
    )


def refund_params(intent_id: str, amount_minor: int, refund_id: str) -> dict:
    """Refund create parameters (no `reason`: localstripe rejects it)."""
    return {"payment_intent": intent_id, "amount": amount_minor,
            "metadata": {"refund_id": refund_id}}


def to_refund(refund: dict, intent_id: str, refund_id: str) -> RefundResult:
    """A Refund dict -> RefundResult."""
    return RefundResult(
        gateway=NAME, gateway_ref=intent_id, refund_ref=refund["id"], refund_id=refund_id,
        amount_minor=int(refund.get("amount") or 0),
        status=_REFUND.get(refund.get("status", ""), RefundStatus.PENDING),
        gateway_status=refund.get("status", ""),
    )


def decline_kind(error: dict) -> ErrorKind:
    """Hard or soft decline from Stripe's `decline_code` (missing = hard)."""
    code = error.get("decline_code") or ""
    return ErrorKind.SOFT_DECLINE if code in SOFT_DECLINE_CODES else ErrorKind.HARD_DECLINE


def classify(error_class: str, http_status: int | None, error: dict, message: str) -> GatewayError:
    """A Stripe SDK error (class name, status, error body) -> classified GatewayError."""
    code = error.get("decline_code") or error.get("code") or error_class
    sent = True
    if error_class == "CardError":
        kind = decline_kind(error)
    elif error_class in ("AuthenticationError", "PermissionError"):
        kind = ErrorKind.AUTH
    elif error_class == "APIConnectionError":
        lowered = message.lower()
        kind = (ErrorKind.TIMEOUT if "timed out" in lowered or "timeout" in lowered
                else ErrorKind.NETWORK)
        sent = not any(s in lowered for s in _NEVER_SENT)
    elif http_status == 409:  # the same key is still running: its outcome is unknown
        kind = ErrorKind.GATEWAY
    elif error_class in ("InvalidRequestError", "IdempotencyError") and (http_status or 0) < 500:
        kind = ErrorKind.INVALID_REQUEST
    else:  # APIError, RateLimitError, anything 5xx
        kind = ErrorKind.GATEWAY
    return GatewayError(NAME, kind, message, code=code, http_status=http_status, sent=sent)


# Connection errors that prove the request never reached Stripe (safe to fail over).
# The SDK names the transport's exception in its message ("A ClientConnectorError was
# raised"): aiohttp's connect failures (refused, DNS, TLS handshake) and connect
# timeout, httpx's ConnectError.
_NEVER_SENT = ("connection refused", "connecterror", "failed to establish",
               "name or service not known", "nodename nor servname",
               "clientconnectorerror", "connectiontimeouterror")


def find_by_payment_id(intents: list[dict], payment_id: str) -> dict | None:
    """The newest intent whose metadata names our payment id."""
    mine = [i for i in intents if (i.get("metadata") or {}).get("payment_id") == payment_id]
    return max(mine, key=lambda i: i.get("created") or 0) if mine else None
