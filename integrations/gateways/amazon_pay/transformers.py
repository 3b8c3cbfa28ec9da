"""Pure conversions between our types and Amazon Pay API v2 JSON bodies.

Amazon amounts are decimal strings in major units ("12.34"); ours are integer minor
units. Statuses live in `statusDetails.state`; unknown states stay PENDING.
"""

from __future__ import annotations

import re
from decimal import Decimal

from integrations.gateways.base import (
    ErrorKind,
    GatewayError,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
    refund_status_for,
)
from smartpay.money import CURRENCY_EXPONENT

NAME = "amazon_pay"
CHARGE_ID = re.compile(r"^[SP]\d{2}-\d{7}-\d{7}-C\d{6}$")
HARD_DECLINES = frozenset({"HardDeclined", "AmazonRejected", "PaymentMethodNotAllowed"})
SOFT_DECLINES = frozenset({"SoftDeclined", "ProcessingFailure", "TransactionTimedOut", "MFANotCompleted"})
_CHARGE = {
    "AuthorizationInitiated": PaymentStatus.PENDING,
    "Authorized": PaymentStatus.AUTHORIZED,
    "CaptureInitiated": PaymentStatus.PENDING,
    "Canceled": PaymentStatus.VOIDED,
    "Declined": PaymentStatus.FAILED,
}
_REFUND = {"RefundInitiated": RefundStatus.PENDING, "Refunded": RefundStatus.SUCCEEDED,
           "Declined": RefundStatus.FAILED}


def to_amount(minor: int, currency: str) -> dict:
    """Minor units -> Amazon {"amount": "12.34", "currencyCode": "USD"}."""
    exp = CURRENCY_EXPONENT[currency]
    return {"amount": str(Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))),
            "currencyCode": currency}


def from_amount(price: dict | None) -> int:
    """Amazon price -> minor units (0 when absent)."""
    if not price:
        return 0
    exp = CURRENCY_EXPONENT[price["currencyCode"]]
    return int(Decimal(price["amount"]).scaleb(exp))


def session_body(payment_id: str, amount_minor: int, currency: str, capture: bool,
                 store_id: str, return_url: str) -> dict:
    """Create Checkout Session body (payment details set up front: ProcessOrder mode)."""
    return {
        "webCheckoutDetails": {"checkoutResultReturnUrl": return_url, "checkoutMode": "ProcessOrder"},
        "storeId": store_id,
        "chargePermissionType": "OneTime",
        "paymentDetails": {
            "paymentIntent": "AuthorizeWithCapture" if capture else "Authorize",
            "chargeAmount": to_amount(amount_minor, currency),
            "canHandlePendingAuthorization": False,
        },
        "merchantMetadata": {"merchantReferenceId": payment_id},
    }


def complete_body(amount_minor: int, currency: str) -> dict:
    """Complete Checkout Session body."""
    return {"chargeAmount": to_amount(amount_minor, currency)}


def capture_body(amount_minor: int, currency: str, payment_id: str) -> dict:
    """Capture Charge body."""
    return {"captureAmount": to_amount(amount_minor, currency), "softDescriptor": "SMARTPAY"}


def refund_body(charge_id: str, amount_minor: int, currency: str) -> dict:
    """Create Refund body."""
    return {"chargeId": charge_id, "refundAmount": to_amount(amount_minor, currency),
            "softDescriptor": "SMARTPAY"}


def state_of(obj: dict) -> str:
    """`statusDetails.state` of a session, charge or refund."""
    return (obj.get("statusDetails") or {}).get("state", "")


def charge_to_result(charge: dict, payment_id: str) -> PaymentResult:
    """A Charge body -> PaymentResult."""
    state = state_of(charge)
    captured, refunded = from_amount(charge.get("captureAmount")), from_amount(charge.get("refundedAmount"))
    status = refund_status_for(captured, refunded) if state == "Captured" else _CHARGE.get(state, PaymentStatus.PENDING)
    price = charge.get("chargeAmount") or {}
    return PaymentResult(
        gateway=NAME, payment_id=payment_id, gateway_ref=charge["chargeId"], status=status,
        amount_minor=from_amount(price), currency=price.get("currencyCode", ""),
        captured_minor=captured, refunded_minor=refunded, gateway_status=state,
        decline_code=(charge.get("statusDetails") or {}).get("reasonCode"),
    )


def canceled_session_result(session: dict, payment_id: str) -> PaymentResult:
    """A checkout session canceled by a decline -> FAILED PaymentResult."""
    price = (session.get("paymentDetails") or {}).get("chargeAmount") or {}
    return PaymentResult(
        gateway=NAME, payment_id=payment_id, gateway_ref=session["checkoutSessionId"],
        status=PaymentStatus.FAILED, amount_minor=from_amount(price),
        currency=price.get("currencyCode", ""), gateway_status="Canceled",
        decline_code=(session.get("statusDetails") or {}).get("reasonCode"),
    )


def refund_to_result(refund: dict, refund_id: str) -> RefundResult:
    """A Refund body -> RefundResult."""
    state = state_of(refund)
    return RefundResult(
        gateway=NAME, gateway_ref=refund["chargeId"], refund_ref=refund["refundId"],
        refund_id=refund_id, amount_minor=from_amount(refund.get("refundAmount")),
        status=_REFUND.get(state, RefundStatus.PENDING), gateway_status=state,
    )


def classify_http(status: int, body: dict, gateway_ref: str | None = None) -> GatewayError:
    """An error response (status, {"reasonCode", "message"}) -> classified GatewayError."""
    code = str(body.get("reasonCode") or f"HTTP{status}")
    message = str(body.get("message") or "error response")
    if code in HARD_DECLINES:
        kind = ErrorKind.HARD_DECLINE
    elif code in SOFT_DECLINES:
        kind = ErrorKind.SOFT_DECLINE
    elif status in (401, 403):
        kind = ErrorKind.AUTH
    elif status >= 500 or status == 429:
        kind = ErrorKind.GATEWAY
    else:
        kind = ErrorKind.INVALID_REQUEST
    return GatewayError(NAME, kind, message, code=code, http_status=status, gateway_ref=gateway_ref)
