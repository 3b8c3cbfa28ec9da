"""A local Amazon Pay API v2 sandbox (Starlette) for tests, the demo and benchmarks.

Implements checkout session create/get/update/complete, charge create/get/capture/
cancel, refund create/get and charge permission get, with Amazon's status names
(`statusDetails.state`) and error bodies (`{"reasonCode", "message"}`). Every API
request must carry a valid AMZN-PAY-RSASSA-PSS signature from a registered public
key: a missing header gets 400 MissingHeader, a bad signature 401
InvalidRequestSignature. POSTs honour `x-amz-pay-idempotency-key`.

The buyer's side (approving a session on Amazon's page) is simulated by the unsigned
`POST /simulation/checkoutSessions/{id}/approve {"paymentInstrument": ...}`; the
instruments "HardDeclined" and "SoftDeclined" make the charge decline.

    with run_amazon_pay_sandbox({"KEYID": public_pem}) as endpoint:
        AmazonPayConfig("KEYID", key_path, endpoint=endpoint)
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator

from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from integrations.gateways.amazon_pay import signing
from integrations.gateways.amazon_pay.transformers import from_amount
from integrations.gateways.standin import serve_asgi

_REQUIRED_SIGNED = {"x-amz-pay-date", "x-amz-pay-host", "x-amz-pay-region"}
_MAX_CLOCK_SKEW = timedelta(minutes=15)


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


def _get(table: dict, key: str, what: str) -> dict:
    if key not in table:
        raise ApiError(404, "ResourceNotFound", f"{what} {key} does not exist")
    return table[key]


def _need_state(obj: dict, allowed: set[str], what: str) -> None:
    state = obj["statusDetails"]["state"]
    if state not in allowed:
        raise ApiError(422, f"Invalid{what}Status", f"{what} is {state}; expected one of {sorted(allowed)}")


def _price(minor: int, currency: str) -> dict:
    from integrations.gateways.amazon_pay.transformers import to_amount

    return to_amount(minor, currency)


# --- state transitions -------------------------------------------------------------

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
    session = _get(st.sessions, sid, "CheckoutSession")
    _need_state(session, {"Open"}, "CheckoutSession")
    session["buyer"] = {"buyerId": "amzn1.account.SANDBOX", "name": "Sandbox Buyer",
                        "email": "buyer@example.com"}
    session["paymentPreferences"] = [{"paymentDescriptor": body.get("paymentInstrument", "Visa")}]
    return session


def complete_session(st: SandboxState, sid: str, body: dict) -> dict:
    """Complete Checkout Session: create the charge (or decline and cancel the session)."""
    session = _get(st.sessions, sid, "CheckoutSession")
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
    permission = _get(st.permissions, body.get("chargePermissionId", ""), "ChargePermission")
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
    charge = _get(st.charges, cid, "Charge")
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
    charge = _get(st.charges, cid, "Charge")
    _need_state(charge, {"Authorized", "AuthorizationInitiated"}, "Charge")
    _set_state(charge, "Canceled", "MerchantCanceled")
    return charge


def create_refund(st: SandboxState, body: dict) -> dict:
    """Create Refund: RefundInitiated; the total may not exceed the captured amount."""
    charge = _get(st.charges, body.get("chargeId", ""), "Charge")
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
    refund = _get(st.refunds, rid, "Refund")
    if refund["statusDetails"]["state"] == "RefundInitiated":
        _set_state(refund, "Refunded")
        return {**refund, "statusDetails": _status("RefundInitiated")}
    return refund


# --- HTTP layer --------------------------------------------------------------------

def _check_signature(st: SandboxState, request: Request, body: bytes) -> None:
    auth = request.headers.get("authorization")
    if not auth:
        raise ApiError(400, "MissingHeader", "the authorization header is missing")
    algorithm, fields = signing.parse_authorization(auth)
    key = st.public_keys.get(fields.get("PublicKeyId", ""))
    names = [n for n in fields.get("SignedHeaders", "").split(";") if n]
    if algorithm not in signing.SALT_LENGTH or key is None or not _REQUIRED_SIGNED <= set(names):
        raise ApiError(401, "InvalidRequestSignature", "unknown key, algorithm or signed headers")
    headers = {n: request.headers.get(n, "") for n in names}
    canonical, _ = signing.canonical_request(request.method, request.url.path,
                                             request.url.query, headers, body)
    if not signing.verify(key, signing.string_to_sign(canonical, algorithm),
                          fields.get("Signature", ""), algorithm):
        raise ApiError(401, "InvalidRequestSignature", "the request signature does not match")
    _check_date(headers["x-amz-pay-date"])


def _check_date(value: str) -> None:
    try:
        sent = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ApiError(400, "InvalidHeaderValue", f"x-amz-pay-date {value!r} is malformed") from None
    if abs(datetime.now(timezone.utc) - sent) > _MAX_CLOCK_SKEW:
        raise ApiError(401, "InvalidRequestSignature", "x-amz-pay-date is outside the allowed skew")


def _handler(st: SandboxState, action, signed: bool = True):
    async def endpoint(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            if signed:
                _check_signature(st, request, raw)
            return _replay_or_run(st, request, raw, action)
        except ApiError as err:
            return JSONResponse({"reasonCode": err.reason, "message": err.message}, err.status)
    return endpoint


def _replay_or_run(st: SandboxState, request: Request, raw: bytes, action) -> JSONResponse:
    key = request.headers.get("x-amz-pay-idempotency-key") if request.method == "POST" else None
    digest = hashlib.sha256(raw).hexdigest()
    if key and key in st.replies:
        seen, status, body = st.replies[key]
        if seen != digest:
            raise ApiError(400, "InvalidRequest", "idempotency key reused with a different body")
        return JSONResponse(body, status)
    body = json.loads(raw) if raw else {}
    result = action(st, request.path_params, body)
    status = 201 if request.method == "POST" and request.url.path.endswith(("/checkoutSessions", "/charges", "/refunds")) else 200
    if key:
        st.replies[key] = (digest, status, result)
    return JSONResponse(result, status)


def build_app(public_keys: dict[str, bytes], seed: int | None = None) -> Starlette:
    """The sandbox ASGI app; `public_keys` maps PublicKeyId -> PEM public key."""
    keys = {k: serialization.load_pem_public_key(v) for k, v in public_keys.items()}
    st = SandboxState(public_keys=keys, rng=random.Random(seed))
    h = lambda fn, **kw: _handler(st, fn, **kw)  # noqa: E731
    api = [
        Route("/checkoutSessions", h(lambda s, p, b: create_session(s, b)), methods=["POST"]),
        Route("/checkoutSessions/{id}", h(lambda s, p, b: _get(s.sessions, p["id"], "CheckoutSession")), methods=["GET"]),
        Route("/checkoutSessions/{id}", h(lambda s, p, b: _update_session(s, p["id"], b)), methods=["PATCH"]),
        Route("/checkoutSessions/{id}/complete", h(lambda s, p, b: complete_session(s, p["id"], b)), methods=["POST"]),
        Route("/charges", h(lambda s, p, b: create_charge(s, b)), methods=["POST"]),
        Route("/charges/{id}", h(lambda s, p, b: _get(s.charges, p["id"], "Charge")), methods=["GET"]),
        Route("/charges/{id}/capture", h(lambda s, p, b: capture_charge(s, p["id"], b)), methods=["POST"]),
        Route("/charges/{id}/cancel", h(lambda s, p, b: cancel_charge(s, p["id"], b)), methods=["DELETE"]),
        Route("/chargePermissions/{id}", h(lambda s, p, b: _get(s.permissions, p["id"], "ChargePermission")), methods=["GET"]),
        Route("/refunds", h(lambda s, p, b: create_refund(s, b)), methods=["POST"]),
        Route("/refunds/{id}", h(lambda s, p, b: get_refund(s, p["id"])), methods=["GET"]),
    ]
    buyer = Route("/simulation/checkoutSessions/{id}/approve",
                  h(lambda s, p, b: approve_session(s, p["id"], b), signed=False), methods=["POST"])
    return Starlette(routes=[buyer, Mount("/sandbox/v2", routes=api),
                             Mount("/live/v2", routes=api), Mount("/v2", routes=api)])


def _update_session(st: SandboxState, sid: str, body: dict) -> dict:
    session = _get(st.sessions, sid, "CheckoutSession")
    _need_state(session, {"Open"}, "CheckoutSession")
    for part in ("paymentDetails", "merchantMetadata", "webCheckoutDetails"):
        session[part] = {**session.get(part, {}), **(body.get(part) or {})}
    return session


@contextmanager
def run_amazon_pay_sandbox(public_keys: dict[str, bytes], seed: int | None = None) -> Iterator[str]:
    """Serve the sandbox on a free 127.0.0.1 port; yield its endpoint URL."""
    with serve_asgi(build_app(public_keys, seed), name="amazon-pay-sandbox") as url:
        yield url


async def approve_as_buyer(endpoint: str, session_id: str, instrument: str = "Visa") -> None:
    """Play the buyer: approve a checkout session in the sandbox with a test instrument."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        resp = await client.post(f"{endpoint}/simulation/checkoutSessions/{session_id}/approve",
                                 json={"paymentInstrument": instrument})
        resp.raise_for_status()
