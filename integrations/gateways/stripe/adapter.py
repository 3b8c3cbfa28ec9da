"""Stateless Stripe adapter over the official SDK's async PaymentIntents API.

Points at real Stripe by default; `api_base` points it at localstripe. The SDK's own
retries are off: retrying is `resilience.py`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

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

# How many pages of 100 intents a lookup by our payment id reads at most (a lookup on
# an account with more intents than that falls back on search alone).
MAX_LOOKUP_PAGES = 100


@dataclass(frozen=True)
class StripeConfig:
    """Where and how to reach Stripe."""

    api_key: SecretStr
    api_base: str = "https://api.stripe.com"
    timeout_s: float = 10.0
    webhook_secret: SecretStr | None = None


class StripeAdapter:
    """Stripe PaymentIntents: create+confirm, manual capture, cancel, refunds.

    Every mutating call carries an idempotency key derived from our reference (the
    attempt, or the refund), so a call re-sent after a lost answer is answered with
    the first outcome instead of being done twice."""

    name = tf.NAME

    def __init__(self, config: StripeConfig) -> None:
        # The SDK's aiohttp transport, not its httpx one: the same calls to localstripe
        # cost the client 2.3 ms of CPU instead of 4.7 (benchmarks/profile_pay.py
        # found httpx's connection pool the largest share of a payment's CPU). Its
        # session opens on the first call, on the loop that makes it.
        import aiohttp

        self._http = stripe.AIOHTTPClient(
            timeout=aiohttp.ClientTimeout(total=config.timeout_s))
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
        opts = {"idempotency_key": f"{payment_id}:capture"}
        intent = await self._call(self._intents.capture_async(gateway_ref, params=params, options=opts))
        return tf.to_result(await self._expanded(intent), payment_id)

    async def void(self, gateway_ref: str, *, payment_id: str) -> PaymentResult:
        """Cancel an uncaptured intent."""
        opts = {"idempotency_key": f"{payment_id}:void"}
        intent = await self._call(self._intents.cancel_async(gateway_ref, options=opts))
        return tf.to_result(await self._expanded(intent), payment_id)

    async def refund(
        self, gateway_ref: str, amount_minor: int | None = None, *, refund_id: str
    ) -> RefundResult:
        """Refund under the refund's own key. The cap is the gateway's (Stripe refuses
        more than is left): a check here before the call could not see a concurrent
        refund, and would refuse the replay of one that already went through."""
        amount = amount_minor
        if amount is None:  # "all that is left" must be named: a replay must match
            current = await self.sync("", gateway_ref)
            amount = current.refundable_minor if current else 0
        if amount <= 0:
            raise invalid(self.name, f"refund of {amount} minor units", "nothing_to_refund")
        params = tf.refund_params(gateway_ref, amount, refund_id)
        opts = {"idempotency_key": refund_id}
        refund = await self._call(self._refunds.create_async(params=params, options=opts))
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

    async def records(self) -> list[PaymentResult]:
        """Every payment intent at the gateway, each named by the payment id in its
        metadata (for reconciliation against the ledger; charges come expanded)."""
        found = []
        # Every page: a reconciliation that stopped at a cap would report each intent
        # past it as a payment the gateway never charged (`make chaos` found that at
        # 23,244 intents, 10,000 of them listed).
        async for page in self._pages(None, expand=["data.latest_charge"]):
            found += [tf.to_result(await self._expanded(i)) for i in page]
        return found

    async def _find(self, payment_id: str):
        """The intent naming our payment id, by Stripe's search. Search lags about a
        minute; status sync reads "not found" as final only after its consistency
        window, so an empty answer is trusted here. Only a server without search
        (400 invalid_request_error) gets the intent list scanned instead, at most
        MAX_LOOKUP_PAGES pages: a scan of every page for each payment in doubt had
        status sync time out past 10,000 intents and leave payments pending."""
        query = f"metadata['payment_id']:'{payment_id}'"
        try:
            page = await self._call(self._intents.search_async(params={"query": query}))
            return _newest_of(page.data, payment_id)
        except GatewayError as err:
            if err.kind != ErrorKind.INVALID_REQUEST:
                raise
        hits = []
        async for page in self._pages(MAX_LOOKUP_PAGES):
            hits += [i for i in page if _names(i, payment_id)]
        return _newest_of(hits, payment_id)

    async def _pages(self, max_pages: int | None, **extra):
        """The intent list page by page (100 a page; at most `max_pages`, None: all)."""
        after = None
        pages = 0
        while max_pages is None or pages < max_pages:
            pages += 1
            params = {"limit": 100, **extra} | ({"starting_after": after} if after else {})
            page = await self._call(self._intents.list_async(params=params))
            if page.data:
                yield page.data
            if not page.has_more or not page.data:
                return
            after = page.data[-1].id

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


def _names(intent, payment_id: str) -> bool:
    return (intent.to_dict().get("metadata") or {}).get("payment_id") == payment_id


def _newest_of(intents, payment_id: str):
    """The newest SDK intent whose metadata names our payment id, or None."""
    found = tf.find_by_payment_id([i.to_dict() for i in intents], payment_id)
    return next(i for i in intents if i.id == found["id"]) if found else None
