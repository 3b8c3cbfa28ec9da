"""State and status transitions of the local Amazon Pay sandbox (no HTTP here).

Follows Amazon Pay API v2's objects: checkout sessions (Open -> Completed | Canceled),
charges (Authorized -> Captured | Canceled; Declined), refunds (RefundInitiated ->
Refunded) and charge permissions (Chargeable). Errors are `ApiError`s carrying
Amazon's HTTP status and reasonCode.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from integrations.gateways.amazon_pay.transformers import from_amount, to_amount


class ApiError(Exception):
    """An Amazon-style error response."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message


@dataclass
class SandboxState:
    """Everything the sandbox knows; one instance per server."""

    public_keys: dict
    sessions: dict = field(default_factory=dict)
    charges: dict = field(default_factory=dict)
    permissions: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    replies: dict = field(default_factory=dict)  # idempotency key -> (body hash, status, body)
    rng: random.Random = field(default_factory=random.Random)

    def new_id(self, suffix: str = "") -> str:
        """An Amazon-looking id, e.g. S01-1234567-1234567-C123456."""
        r = self.rng
        base = f"S01-{r.randrange(10**7):07d}-{r.randrange(10**7):07d}"
        return f"{base}-{suffix}{r.randrange(10**6):06d}" if suffix else base


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(state: str, reason: str | None = None) -> dict:
    return {"state": state, "reasonCode": reason, "reasonDescription": None,
            "lastUpdatedTimestamp": _now()}


def _set_state(obj: dict, state: str, reason: str | None = None) -> None:
    obj["statusDetails"] = _status(state, reason)


def get_object(table: dict, key: str, what: str) -> dict:
    """An object by id, or the documented 404 ResourceNotFound."""
    if key not in table:
        raise ApiError(404, "ResourceNotFound", f"{what} {key} does not exist")
    return table[key]


def _need_state(obj: dict, allowed: set[str], what: str) -> None:
    state = obj["statusDetails"]["state"]
    if state not in allowed:
        raise ApiError(422, f"Invalid{what}Status", f"{what} is {state}; expected one of {sorted(allowed)}")


def _price(minor: int, currency: str) -> dict:
    return to_amount(minor, currency)


def create_session(st: SandboxState, body: dict) -> dict:
    """Create Checkout Session: state Open, awaiting the buyer."""
    sid = str(uuid.UUID(int=st.rng.getrandbits(128)))
    session = {
        "checkoutSessionId": sid, "webCheckoutDetails": {
            **(body.get("webCheckoutDetails") or {}),
            "amazonPayRedirectUrl": f"https://pay.amazon.com/checkout?session={sid}"},
        "paymentDetails": body.get("paymentDetails") or {},
        "merchantMetadata": body.get("merchantMetadata") or {},
        "chargePermissionType": body.get("chargePermissionType", "OneTime"),
        "storeId": body.get("storeId"), "buyer": None, "chargeId": None,
        "chargePermissionId": None, "creationTimestamp": _now(), "releaseEnvironment": "Sandbox",
    }
    _set_state(session, "Open")
    st.sessions[sid] = session
    return session


def approve_session(st: SandboxState, sid: str, body: dict) -> dict:
    """Simulated buyer approval on Amazon's page, choosing a test instrument."""
    session = get_object(st.sessions, sid, "CheckoutSession")
    _need_state(session, {"Open"}, "CheckoutSession")
    session["buyer"] = {"buyerId": "amzn1.account.SANDBOX", "name": "Sandbox Buyer",
                        "email": "buyer@example.com"}
    session["paymentPreferences"] = [{"paymentDescriptor": body.get("paymentInstrument", "Visa")}]
    return session


def complete_session(st: SandboxState, sid: str, body: dict) -> dict:
    """Complete Checkout Session: create the charge (or decline and cancel the session)."""
    session = get_object(st.sessions, sid, "CheckoutSession")
    _need_state(session, {"Open"}, "CheckoutSession")
    if not session["buyer"]:
        raise ApiError(422, "InvalidCheckoutSessionStatus", "the buyer has not approved this session")
    expected = session["paymentDetails"].get("chargeAmount")
    if expected and body.get("chargeAmount") != expected:
        raise ApiError(400, "InvalidParameterValue", f"chargeAmount must equal {expected}")
    instrument = session["paymentPreferences"][0]["paymentDescriptor"]
    permission_id = st.new_id()
    st.permissions[permission_id] = {"chargePermissionId": permission_id,
                                     "instrument": instrument, "statusDetails": _status("Chargeable")}
    capture = session["paymentDetails"].get("paymentIntent") == "AuthorizeWithCapture"
    charge = _new_charge(st, permission_id, body["chargeAmount"], capture, session["merchantMetadata"])
    if charge["statusDetails"]["state"] == "Declined":
        _set_state(session, "Canceled", "Declined")
        reason = charge["statusDetails"]["reasonCode"]
        raise ApiError(422, reason, f"the payment was declined ({reason})")
    session.update(chargeId=charge["chargeId"], chargePermissionId=permission_id)
    _set_state(session, "Completed")
    return session


def create_charge(st: SandboxState, body: dict) -> dict:
    """Create Charge on an existing, chargeable charge permission."""
    permission = get_object(st.permissions, body.get("chargePermissionId", ""), "ChargePermission")
    _need_state(permission, {"Chargeable"}, "ChargePermission")
    charge = _new_charge(st, permission["chargePermissionId"], body["chargeAmount"],
                         bool(body.get("captureNow")), body.get("merchantMetadata") or {})
    if charge["statusDetails"]["state"] == "Declined":
        reason = charge["statusDetails"]["reasonCode"]
        raise ApiError(422, reason, f"the payment was declined ({reason})")
    return charge


def _new_charge(st: SandboxState, permission_id: str, amount: dict, capture: bool, meta: dict) -> dict:
    instrument = st.permissions[permission_id]["instrument"]
    cid = st.new_id("C")
    charge = {"chargeId": cid, "chargePermissionId": permission_id, "chargeAmount": amount,
              "captureAmount": None, "refundedAmount": None, "softDescriptor": "AMZ*SMARTPAY",
              "merchantMetadata": meta, "creationTimestamp": _now(), "releaseEnvironment": "Sandbox"}
    if instrument in ("HardDeclined", "SoftDeclined", "AmazonRejected"):
        _set_state(charge, "Declined", instrument)
    elif capture:
        charge.update(captureAmount=amount, refundedAmount=_price(0, amount["currencyCode"]))
        _set_state(charge, "Captured")
    else:
        _set_state(charge, "Authorized")
    st.charges[cid] = charge
    return charge


def capture_charge(st: SandboxState, cid: str, body: dict) -> dict:
    """Capture Charge: Authorized -> Captured, at most the authorized amount."""
    charge = get_object(st.charges, cid, "Charge")
    _need_state(charge, {"Authorized"}, "Charge")
    amount = body.get("captureAmount") or {}
    if amount.get("currencyCode") != charge["chargeAmount"]["currencyCode"]:
        raise ApiError(400, "CurrencyMismatch", "captureAmount currency differs from the charge")
    if from_amount(amount) > from_amount(charge["chargeAmount"]):
        raise ApiError(422, "TransactionAmountExceeded", "captureAmount exceeds the authorized amount")
    charge.update(captureAmount=amount, refundedAmount=_price(0, amount["currencyCode"]))
    _set_state(charge, "Captured")
    return charge


def cancel_charge(st: SandboxState, cid: str, body: dict) -> dict:
    """Cancel Charge: only an authorization that was not captured."""
    charge = get_object(st.charges, cid, "Charge")
    _need_state(charge, {"Authorized", "AuthorizationInitiated"}, "Charge")
    _set_state(charge, "Canceled", "MerchantCanceled")
    return charge


def create_refund(st: SandboxState, body: dict) -> dict:
    """Create Refund: RefundInitiated; the total may not exceed the captured amount."""
    charge = get_object(st.charges, body.get("chargeId", ""), "Charge")
    _need_state(charge, {"Captured"}, "Charge")
    amount = body.get("refundAmount") or {}
    done, cap = from_amount(charge["refundedAmount"]), from_amount(charge["captureAmount"])
    if from_amount(amount) <= 0 or done + from_amount(amount) > cap:
        raise ApiError(422, "TransactionAmountExceeded", f"refunds would exceed the captured {cap}")
    charge["refundedAmount"] = _price(done + from_amount(amount), amount["currencyCode"])
    rid = st.new_id("R")
    refund = {"refundId": rid, "chargeId": charge["chargeId"], "refundAmount": amount,
              "softDescriptor": body.get("softDescriptor"), "creationTimestamp": _now(),
              "releaseEnvironment": "Sandbox"}
    _set_state(refund, "RefundInitiated")
    st.refunds[rid] = refund
    return refund


def get_refund(st: SandboxState, rid: str) -> dict:
    """Get Refund; a refund settles (Refunded) once it has been read after creation."""
    refund = get_object(st.refunds, rid, "Refund")
    if refund["statusDetails"]["state"] == "RefundInitiated":
        _set_state(refund, "Refunded")
        return {**refund, "statusDetails": _status("RefundInitiated")}
    return refund


def update_session(st: SandboxState, sid: str, body: dict) -> dict:
    """Update Checkout Session: merge payment details and metadata while Open."""
    session = get_object(st.sessions, sid, "CheckoutSession")
    _need_state(session, {"Open"}, "CheckoutSession")
    for part in ("paymentDetails", "merchantMetadata", "webCheckoutDetails"):
        session[part] = {**session.get(part, {}), **(body.get(part) or {})}
    return session
