"""Stateless Stripe adapter over the official SDK's async PaymentIntents API.

Points at real Stripe by default; `api_base` points it at localstripe. The SDK's own
retries are off: retrying is `resilience.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import uuid

import stripe
from pydantic import SecretStr

from integrations.gateways.base import (
    AuthorizeRequest,
    ErrorKind,
    GatewayError,
    PaymentResult,
    RefundResult,
    invalid,
)
from integrations.gateways.stripe import transformers as tf


@dataclass(frozen=True)
class StripeConfig:
    """Where and how to reach Stripe."""

    api_key: SecretStr
    api_base: str = "https://api.stripe.com"
    timeout_s: float = 10.0
    webhook_secret: SecretStr | None = None


class StripeAdapter:
    """Stripe PaymentIntents: create+confirm, manual capture, cancel, refunds."""

    name = tf.NAME

    def __init__(self, config: StripeConfig) -> None:
        self._http = stripe.HTTPXClient(timeout=config.timeout_s)
        self._client = stripe.StripeClient(
            config.api_key.get_secret_value(),
            base_addresses={"api": config.api_base},
            http_client=self._http,
            max_network_retries=0,
        )
        self._intents = self._client.v1.payment_intents
        self._refunds = self._client.v1.refunds

    async def authorize(self, req: AuthorizeRequest) -> PaymentResult:
        """Create and confirm an intent; manual capture unless `req.capture`."""
        opts = {"idempotency_key": req.key}
        intent = await self._call(self._intents.create_async(params=tf.intent_params(req), options=opts))
        return tf.to_result(await self._expanded(intent), req.payment_id)

    async def capture(
        self, gateway_ref: str, amount_minor: int | None = None, *, payment_id: str
    ) -> PaymentResult:
        """Capture all or part of an authorized intent."""
        params = {} if amount_minor is None else {"amount_to_capture": amount_minor}
        opts = {"idempotency_key": _call_key("capture", payment_id)}
        intent = await self._call(self._intents.capture_async(gateway_ref, params=params, options=opts))
        return tf.to_result(await self._expanded(intent), payment_id)

    async def void(self, gateway_ref: str, *, payment_id: str) -> PaymentResult:
        """Cancel an uncaptured intent."""
        opts = {"idempotency_key": _call_key("void", payment_id)}
        intent = await self._call(self._intents.cancel_async(gateway_ref, options=opts))
        return tf.to_result(await self._expanded(intent), payment_id)

    async def refund(
        self, gateway_ref: str, amount_minor: int | None = None, *, refund_id: str
    ) -> RefundResult:
        """Refund after checking the refundable amount (localstripe does not check)."""
        current = await self.sync("", gateway_ref)
        left = current.refundable_minor if current else 0
        amount = left if amount_minor is None else amount_minor
        if amount <= 0 or amount > left:
            raise invalid(self.name, f"refund {amount} exceeds refundable {left}", "amount_too_large")
        params = tf.refund_params(gateway_ref, amount, refund_id)
        refund = await self._call(self._refunds.create_async(params=params, options={"idempotency_key": refund_id}))
        return tf.to_refund(refund.to_dict(), gateway_ref, refund_id)

    async def sync(self, payment_id: str, gateway_ref: str | None = None) -> PaymentResult | None:
        """Retrieve by intent id, or find the intent by our payment id in metadata."""
        if gateway_ref:
            intent = await self._call(self._intents.retrieve_async(gateway_ref))
            return tf.to_result(await self._expanded(intent), payment_id or None)
        found = await self._find(payment_id)
        return tf.to_result(await self._expanded(found), payment_id) if found else None

    async def aclose(self) -> None:
        """Close the SDK's HTTP client."""
        await self._http.close_async()

    async def _find(self, payment_id: str):
        """Search (real Stripe), then the newest 100 intents (search lags; localstripe lacks it)."""
        query = f"metadata['payment_id']:'{payment_id}'"
        found = None
        try:
            page = await self._call(self._intents.search_async(params={"query": query}))
            found = tf.find_by_payment_id([i.to_dict() for i in page.data], payment_id)
        except GatewayError as err:
            if err.kind != ErrorKind.INVALID_REQUEST:
                raise
        if found is None:
            page = await self._call(self._intents.list_async(params={"limit": 100}))
            found = tf.find_by_payment_id([i.to_dict() for i in page.data], payment_id)
        return next(i for i in page.data if i.id == found["id"]) if found else None

    async def _expanded(self, intent) -> dict:
        """The intent as a dict with its latest charge expanded."""
        data = intent.to_dict()
        latest = data.get("latest_charge")
        if isinstance(latest, str):
            charge = await self._call(self._client.v1.charges.retrieve_async(latest))
            data["latest_charge"] = charge.to_dict()
        return data

    async def _call(self, awaitable):
        """Await an SDK call, turning SDK errors into classified GatewayErrors."""
        try:
            return await awaitable
        except stripe.StripeError as exc:
            body = exc.error.to_dict() if exc.error else {}
            msg = exc.user_message or str(exc._message or type(exc).__name__)
            raise tf.classify(type(exc).__name__, exc.http_status, body, msg) from None


def _call_key(op: str, payment_id: str) -> str:
    """One key per call: a second capture is a new request the gateway must reject."""
    return f"{op}-{payment_id}-{uuid.uuid4().hex[:12]}"
