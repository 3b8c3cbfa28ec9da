"""Stateless Amazon Pay API v2 adapter: signed JSON over aiohttp.

`payment_method` is a checkout session id the buyer approved on Amazon's page (or
in the sandbox's buyer simulation). authorize = Complete Checkout Session (+ Capture
Charge when the session only authorized and we want capture). Base URLs come from
configuration: region host + environment, or an explicit `endpoint` (the sandbox).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from integrations.gateways.amazon_pay import signing
from integrations.gateways.amazon_pay import transformers as tf
from integrations.gateways.base import (
    AuthorizeRequest,
    ErrorKind,
    GatewayError,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    invalid,
)

REGION_HOSTS = {
    "us": "https://pay-api.amazon.com",
    "eu": "https://pay-api.amazon.eu",
    "uk": "https://pay-api.amazon.eu",
    "jp": "https://pay-api.amazon.jp",
}


@dataclass(frozen=True)
class AmazonPayConfig:
    """Credentials and endpoint of one Amazon Pay merchant account."""

    public_key_id: str
    private_key_path: Path
    region: str = "us"
    environment: str = "sandbox"  # or "live"
    endpoint: str | None = None  # overrides the region host, e.g. the local sandbox
    timeout_s: float = 10.0
    algorithm: str = signing.ALGORITHM

    @property
    def base_url(self) -> str:
        """API root, e.g. https://pay-api.amazon.com/sandbox/v2."""
        host = (self.endpoint or REGION_HOSTS[self.region]).rstrip("/")
        # Environment-specific key ids (LIVE-..., SANDBOX-...) omit the environment segment.
        scoped = self.public_key_id.upper().startswith(("LIVE-", "SANDBOX-"))
        return f"{host}/v2" if scoped else f"{host}/{self.environment}/v2"


class AmazonPayAdapter:
    """Amazon Pay v2: checkout session complete, charge capture/cancel, refunds.

    Every POST carries an idempotency key derived from our reference (the attempt, the
    refund), so a re-send after a lost answer gets the first outcome back."""

    name = tf.NAME

    def __init__(self, config: AmazonPayConfig, private_key_pem: SecretStr | None = None) -> None:
        self._cfg, self._base = config, config.base_url
        self._key = (
            signing.as_rsa(signing.serialization.load_pem_private_key(
                private_key_pem.get_secret_value().encode(), None), "private_key_pem")
            if private_key_pem else signing.load_private_key(config.private_key_path)
        )
        # aiohttp rather than httpx: the API's profile under /pay (benchmarks/
        # profile_pay.py) put httpx's connection pool at the top of a payment's CPU.
        # The session opens on the first call, on the loop that makes it.
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def authorize(self, req: AuthorizeRequest) -> PaymentResult:
        """Complete the approved checkout session; capture at once if asked."""
        session_id = req.payment_method
        body = tf.complete_body(req.amount_minor, req.currency)
        session = await self._request("POST", f"/checkoutSessions/{session_id}/complete", body,
                                      idem=req.key, ref=session_id)
        charge = await self._request("GET", f"/charges/{session['chargeId']}", ref=session_id)
        result = tf.charge_to_result(charge, req.payment_id)
        if req.capture and result.status == PaymentStatus.AUTHORIZED:
            # the charge just read names the amount and currency: no second read
            return await self._capture(result.gateway_ref, result.amount_minor,
                                       result.currency, req.payment_id)
        return result

    async def capture(
        self, gateway_ref: str, amount_minor: int | None = None, *, payment_id: str
    ) -> PaymentResult:
        """Capture all (default) or part of an authorized charge."""
        current = await self._charge(gateway_ref, payment_id)
        amount = current.amount_minor if amount_minor is None else amount_minor
        return await self._capture(gateway_ref, amount, current.currency, payment_id)

    async def _capture(self, gateway_ref: str, amount: int, currency: str,
                       payment_id: str) -> PaymentResult:
        body = tf.capture_body(amount, currency, payment_id)
        charge = await self._request("POST", f"/charges/{gateway_ref}/capture", body,
                                     idem=f"{payment_id}:capture", ref=gateway_ref)
        return tf.charge_to_result(charge, payment_id)

    async def void(self, gateway_ref: str, *, payment_id: str) -> PaymentResult:
        """Cancel an authorized, uncaptured charge."""
        body = {"cancellationReason": "voided by merchant"}
        charge = await self._request("DELETE", f"/charges/{gateway_ref}/cancel", body, ref=gateway_ref)
        return tf.charge_to_result(charge, payment_id)

    async def refund(
        self, gateway_ref: str, amount_minor: int | None = None, *, refund_id: str
    ) -> RefundResult:
        """Refund all that is refundable (default) or part of a captured charge."""
        current = await self._charge(gateway_ref, "")
        amount = current.refundable_minor if amount_minor is None else amount_minor
        if amount <= 0:
            raise invalid(self.name, f"refund {amount} of charge {gateway_ref}", "nothing_to_refund")
        body = tf.refund_body(gateway_ref, amount, current.currency)
        refund = await self._request("POST", "/refunds", body, idem=refund_id, ref=gateway_ref)
        return tf.refund_to_result(refund, refund_id)

    async def sync(self, payment_id: str, gateway_ref: str | None = None) -> PaymentResult | None:
        """Read a charge, or a checkout session and its charge; None if never completed.

        Amazon Pay cannot look payments up by our id, so a reference is needed; the
        adapter's errors carry the checkout session id for exactly this.
        """
        if not gateway_ref:
            return None
        if tf.CHARGE_ID.match(gateway_ref):
            return await self._charge(gateway_ref, payment_id)
        session = await self._request("GET", f"/checkoutSessions/{gateway_ref}")
        if session.get("chargeId"):
            return await self._charge(session["chargeId"], payment_id)
        if tf.state_of(session) == "Canceled":
            return tf.canceled_session_result(session, payment_id)
        return None

    async def create_checkout_session(
        self, payment_id: str, amount_minor: int, currency: str, *, capture: bool = True,
        store_id: str = "smartpay", return_url: str = "https://localhost/checkout/return",
    ) -> dict:
        """Create a checkout session the buyer then approves on Amazon's page."""
        body = tf.session_body(payment_id, amount_minor, currency, capture, store_id, return_url)
        return await self._request("POST", "/checkoutSessions", body, idem=f"session-{payment_id}")

    async def get_refund(self, refund_ref: str, refund_id: str = "") -> RefundResult:
        """Read one refund (refunds start RefundInitiated and settle later)."""
        return tf.refund_to_result(await self._request("GET", f"/refunds/{refund_ref}"), refund_id)

    async def aclose(self) -> None:
        """Close the HTTP session (if a call ever opened it)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _charge(self, charge_id: str, payment_id: str) -> PaymentResult:
        return tf.charge_to_result(await self._request("GET", f"/charges/{charge_id}"), payment_id)

    async def _request(self, method: str, path: str, body: dict | None = None, *,
                       idem: str | None = None, ref: str | None = None) -> dict:
        """Sign and send one request; classify every failure."""
        url = self._base + path
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = signing.signed_headers(
            method, url, data, public_key_id=self._cfg.public_key_id, private_key=self._key,
            region=self._cfg.region,
            idempotency_key=_idempotency_key(idem) if method == "POST" and idem else None,
            algorithm=self._cfg.algorithm,
        )
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(method, url, data=data,
                                             headers=headers) as resp:
                status, raw = resp.status, await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc, ref) from None
        if status >= 400:
            raise tf.classify_http(status, _json_or_empty(raw), ref)
        try:
            return json.loads(raw)
        except ValueError:  # a 2xx that is not JSON: the outcome is unknown
            raise GatewayError(tf.NAME, ErrorKind.NETWORK, "answer is not JSON",
                               code="bad_answer", gateway_ref=ref, sent=True) from None


def _json_or_empty(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _transport_error(exc: Exception, ref: str | None) -> GatewayError:
    """Transport failures: a refused or failed connect was never sent; a timeout or a
    connection lost after sending leaves the outcome unknown."""
    not_sent = isinstance(exc, (aiohttp.ClientConnectorError,
                                aiohttp.ConnectionTimeoutError))
    timed_out = isinstance(exc, asyncio.TimeoutError)  # aiohttp's timeouts are these
    kind = ErrorKind.TIMEOUT if timed_out and not not_sent else ErrorKind.NETWORK
    return GatewayError(tf.NAME, kind, type(exc).__name__, code=type(exc).__name__,
                        gateway_ref=ref, sent=not not_sent)


def _idempotency_key(key: str) -> str:
    """Amazon Pay takes keys of at most 32 characters: a longer one (derived from our
    references) is sent as its digest, the same for every re-send."""
    return key if len(key) <= 32 else hashlib.sha256(key.encode()).hexdigest()[:32]
