"""Stripe specifics: webhook signatures (delivered by localstripe itself) and mapping."""

from __future__ import annotations

import asyncio
import json
import queue
import time

import httpx
import pytest
import stripe
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integrations.gateways.base import ErrorKind, GatewayError, PaymentStatus
from harness.server import serve_asgi
from integrations.gateways.stripe import transformers as tf
from integrations.gateways.stripe.webhooks import event_to_result, verify_event

SECRET = SecretStr("whsec_test_secret_value")


def _receiver(inbox: queue.Queue) -> Starlette:
    async def hook(request: Request) -> Response:
        inbox.put((await request.body(), request.headers.get("stripe-signature")))
        return Response(status_code=200)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_a_webhook_signed_by_localstripe_should_verify_and_map_to_captured(stripe_harness):
    inbox: queue.Queue = queue.Queue()
    with serve_asgi(_receiver(inbox)) as url:
        base = stripe_harness.proxy.upstream
        httpx.post(f"{base}/_config/webhooks/hook1", data={"url": f"{url}/hook", "secret": SECRET.get_secret_value(),
                                                           "events[]": "payment_intent.succeeded"})

        async def pay():
            adapter = stripe_harness.adapter()
            try:
                from integrations.gateways.base import AuthorizeRequest

                return await adapter.authorize(AuthorizeRequest(payment_id="wh-1", amount_minor=1234, currency="USD",
                                                                payment_method="pm_card_visa"))
            finally:
                await adapter.aclose()

        paid = asyncio.run(pay())
        deadline = time.monotonic() + 10
        payload, header = None, None
        while time.monotonic() < deadline:
            payload, header = inbox.get(timeout=10)
            if json.loads(payload)["data"]["object"]["id"] == paid.gateway_ref:
                break
    event = verify_event(payload, header, SECRET)
    result = event_to_result(event)
    assert result.gateway_ref == paid.gateway_ref and result.status == PaymentStatus.CAPTURED
    with pytest.raises(GatewayError) as info:
        verify_event(payload.replace(b"1234", b"9999"), header, SECRET)
    assert info.value.kind == ErrorKind.AUTH


def test_a_webhook_with_a_forged_signature_should_be_rejected():
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": "pi_1", "status": "succeeded"}}})
    ts = int(time.time())
    good = stripe.WebhookSignature._compute_signature(f"{ts}.{payload}", SECRET.get_secret_value())
    assert verify_event(payload, f"t={ts},v1={good}", SECRET)["id"] == "evt_1"
    forged = stripe.WebhookSignature._compute_signature(f"{ts}.{payload}", "whsec_other")
    with pytest.raises(GatewayError) as info:
        verify_event(payload, f"t={ts},v1={forged}", SECRET)
    assert info.value.kind == ErrorKind.AUTH and "whsec" not in str(info.value)


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ({"status": "requires_capture"}, PaymentStatus.AUTHORIZED),
        ({"status": "requires_action"}, PaymentStatus.REQUIRES_ACTION),
        ({"status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}, PaymentStatus.FAILED),
        ({"status": "requires_payment_method"}, PaymentStatus.PENDING),
        ({"status": "canceled"}, PaymentStatus.VOIDED),
        ({"status": "some_future_status"}, PaymentStatus.PENDING),
        ({"status": "succeeded", "latest_charge": {"captured": True, "amount": 500, "amount_refunded": 200}},
         PaymentStatus.PARTIALLY_REFUNDED),
    ],
)
def test_stripe_statuses_should_map_to_ours_and_unknown_ones_to_pending(intent, expected):
    assert tf.to_result({"id": "pi_x", "amount": 500, "currency": "usd", **intent}).status == expected


def test_stripe_soft_decline_codes_should_be_retryable_and_others_hard():
    soft = tf.classify("CardError", 402, {"code": "card_declined", "decline_code": "try_again_later"}, "no")
    hard = tf.classify("CardError", 402, {"code": "card_declined", "decline_code": "stolen_card"}, "no")
    server = tf.classify("APIError", 500, {}, "boom")
    assert (soft.kind, soft.retryable, soft.code) == (ErrorKind.SOFT_DECLINE, True, "try_again_later")
    assert (hard.kind, hard.retryable) == (ErrorKind.HARD_DECLINE, False)
    assert (server.kind, server.retryable) == (ErrorKind.GATEWAY, True)


def test_a_refused_connection_is_never_sent_and_a_silent_server_is_an_unknown_timeout():
    """Through the SDK's aiohttp transport: a refused connect proves nothing reached
    Stripe (safe to fail over); a server that takes the request and never answers
    leaves the outcome unknown."""
    from integrations.gateways.base import AuthorizeRequest
    from integrations.gateways.stripe.adapter import StripeAdapter, StripeConfig
    from harness.server import free_port

    req = AuthorizeRequest(payment_id="net-1", amount_minor=1234, currency="USD",
                           payment_method="pm_card_visa", idempotency_key="net-1")

    async def call(base: str, timeout_s: float = 5.0) -> GatewayError:
        adapter = StripeAdapter(StripeConfig(SecretStr("sk_test_x"), base, timeout_s))
        try:
            with pytest.raises(GatewayError) as err:
                await adapter.authorize(req)
            return err.value
        finally:
            await adapter.aclose()

    refused = asyncio.run(call(f"http://127.0.0.1:{free_port()}"))
    assert refused.sent is False and refused.kind == ErrorKind.NETWORK

    async def silent():
        async def hold(reader, writer):
            await reader.read(65536)
            await asyncio.sleep(5)
        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await call(f"http://127.0.0.1:{port}", timeout_s=0.5)
        finally:
            server.close()

    hung = asyncio.run(silent())
    assert hung.sent is True and hung.kind == ErrorKind.TIMEOUT
