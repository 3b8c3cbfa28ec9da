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
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from integrations.gateways.amazon_pay import signing
from harness.amazon_pay_state import (
    ApiError,
    SandboxState,
    approve_session,
    cancel_charge,
    capture_charge,
    complete_session,
    create_charge,
    create_refund,
    create_session,
    get_object,
    get_refund,
    update_session,
)
from harness.server import serve_asgi

_REQUIRED_SIGNED = {"x-amz-pay-date", "x-amz-pay-host", "x-amz-pay-region"}
_MAX_CLOCK_SKEW = timedelta(minutes=15)


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
        Route("/checkoutSessions/{id}", h(lambda s, p, b: get_object(s.sessions, p["id"], "CheckoutSession")), methods=["GET"]),
        Route("/checkoutSessions/{id}", h(lambda s, p, b: update_session(s, p["id"], b)), methods=["PATCH"]),
        Route("/checkoutSessions/{id}/complete", h(lambda s, p, b: complete_session(s, p["id"], b)), methods=["POST"]),
        Route("/charges", h(lambda s, p, b: create_charge(s, b)), methods=["POST"]),
        Route("/charges/{id}", h(lambda s, p, b: get_object(s.charges, p["id"], "Charge")), methods=["GET"]),
        Route("/charges/{id}/capture", h(lambda s, p, b: capture_charge(s, p["id"], b)), methods=["POST"]),
        Route("/charges/{id}/cancel", h(lambda s, p, b: cancel_charge(s, p["id"], b)), methods=["DELETE"]),
        Route("/chargePermissions/{id}", h(lambda s, p, b: get_object(s.permissions, p["id"], "ChargePermission")), methods=["GET"]),
        Route("/refunds", h(lambda s, p, b: create_refund(s, b)), methods=["POST"]),
        Route("/refunds/{id}", h(lambda s, p, b: get_refund(s, p["id"])), methods=["GET"]),
    ]
    buyer = Route("/simulation/checkoutSessions/{id}/approve",
                  h(lambda s, p, b: approve_session(s, p["id"], b), signed=False), methods=["POST"])
    return Starlette(routes=[buyer, Mount("/sandbox/v2", routes=api),
                             Mount("/live/v2", routes=api), Mount("/v2", routes=api)])


@contextmanager
def run_amazon_pay_sandbox(public_keys: dict[str, bytes], seed: int | None = None) -> Iterator[str]:
    """Serve the sandbox on a free 127.0.0.1 port; yield its endpoint URL."""
    with serve_asgi(build_app(public_keys, seed), name="amazon-pay-sandbox") as url:
        yield url


async def approve_as_buyer(endpoint: str, session_id: str, instrument: str = "Visa",
                           client=None) -> None:
    """Play the buyer: approve a checkout session in the sandbox with a test instrument.
    Pass a long-lived `client` on a hot path: a new one loads the CA store (~70 ms)."""
    import httpx

    if client is None:
        async with httpx.AsyncClient(timeout=5) as own:
            return await approve_as_buyer(endpoint, session_id, instrument, own)
    resp = await client.post(f"{endpoint}/simulation/checkoutSessions/{session_id}/approve",
                             json={"paymentInstrument": instrument})
    resp.raise_for_status()
