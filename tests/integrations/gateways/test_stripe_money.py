"""Stripe's idempotent requests and refund cap at the stand-in (read back with the
official client), and the adapter's keys and lookups that rely on them."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import stripe

from integrations.gateways.base import (
    AuthorizeRequest,
    ErrorKind,
    GatewayError,
    PaymentStatus,
)
from integrations.gateways.stripe import StripeAdapter
from tests.integrations.gateways.conftest import STRIPE_KEY


def _client(url: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        STRIPE_KEY, base_addresses={"api": url}, max_network_retries=0
    )


def _intent(payment_id: str, amount: int = 1_000) -> dict:
    return {
        "amount": amount,
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "payment_method_types": ["card"],
        "confirm": True,
        "metadata": {"payment_id": payment_id},
    }


def _mine(client: stripe.StripeClient, payment_id: str) -> list:
    every = client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    return [
        i
        for i in every
        if (i.to_dict().get("metadata") or {}).get("payment_id") == payment_id
    ]


def _refunded_at_stripe(client: stripe.StripeClient, intent_id: str) -> int:
    refunds = client.v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
    return sum(r.amount for r in refunds.data if r.status == "succeeded")


async def _paid(adapter: StripeAdapter, amount: int):
    req = AuthorizeRequest(
        payment_id=f"pay_{uuid.uuid4().hex[:12]}-1",
        amount_minor=amount,
        currency="USD",
        payment_method="pm_card_visa",
    )
    return req, await adapter.authorize(req)


def _fresh(harness):
    """An SDK client straight to the stand-in, a new payment id and a new key."""
    return _client(harness.proxy.upstream), uuid.uuid4().hex, uuid.uuid4().hex


def test_the_stripe_standin_answers_a_repeated_idempotency_key_with_the_first_intent(
    stripe_harness,
):
    client, pid, key = _fresh(stripe_harness)
    first = client.v1.payment_intents.create(
        params=_intent(pid), options={"idempotency_key": key}
    )
    again = client.v1.payment_intents.create(
        params=_intent(pid), options={"idempotency_key": key}
    )
    assert again.id == first.id and again.status == "succeeded"
    assert [i.id for i in _mine(client, pid)] == [first.id]


def test_the_stripe_standin_refuses_an_idempotency_key_reused_with_other_parameters(
    stripe_harness,
):
    client, pid, key = _fresh(stripe_harness)
    client.v1.payment_intents.create(
        params=_intent(pid), options={"idempotency_key": key}
    )
    with pytest.raises(stripe.IdempotencyError) as info:
        client.v1.payment_intents.create(
            params=_intent(pid, 1_001), options={"idempotency_key": key}
        )
    assert info.value.http_status == 400
    assert len(_mine(client, pid)) == 1


@pytest.mark.parametrize("n, amount", [(2, 1_600), (5, 900), (20, 400)])
def test_concurrent_refunds_at_the_adapter_never_refund_more_than_was_captured(
    stripe_harness, n, amount
):
    async def scenario():
        adapter = stripe_harness.adapter()
        try:
            _, paid = await _paid(adapter, 3_000)
            sent = [
                adapter.refund(
                    paid.gateway_ref, amount, refund_id=f"{paid.gateway_ref}-r{i}"
                )
                for i in range(n)
            ]
            return paid, await asyncio.gather(*sent, return_exceptions=True)
        finally:
            await adapter.aclose()

    paid, answers = asyncio.run(scenario())
    done = [a for a in answers if not isinstance(a, Exception)]
    refused = [a for a in answers if isinstance(a, Exception)]
    assert len(done) == 3_000 // amount
    assert all(
        isinstance(e, GatewayError)
        and e.kind == ErrorKind.INVALID_REQUEST
        and e.code == "amount_too_large"
        for e in refused
    )
    client = _client(stripe_harness.proxy.upstream)
    assert _refunded_at_stripe(client, paid.gateway_ref) == len(done) * amount <= 3_000


def test_a_refund_sent_again_after_its_answer_was_lost_refunds_once(stripe_harness):
    async def scenario():
        adapter = stripe_harness.adapter(timeout_s=2)
        try:
            _, paid = await _paid(adapter, 1_000)
            stripe_harness.proxy.inject("drop_after", match="POST /v1/refunds ")
            with pytest.raises(GatewayError) as lost:
                await adapter.refund(
                    paid.gateway_ref, 1_000, refund_id=f"{paid.gateway_ref}-r"
                )
            again = await adapter.refund(
                paid.gateway_ref, 1_000, refund_id=f"{paid.gateway_ref}-r"
            )
            return paid, lost.value, again, await adapter.sync("", paid.gateway_ref)
        finally:
            await adapter.aclose()

    paid, lost, again, after = asyncio.run(scenario())
    assert lost.ambiguous  # the answer was lost after Stripe refunded
    assert again.amount_minor == 1_000 and after.status == PaymentStatus.REFUNDED
    assert (
        _refunded_at_stripe(_client(stripe_harness.proxy.upstream), paid.gateway_ref)
        == 1_000
    )


def test_a_lost_charge_is_found_by_our_payment_id_behind_more_than_a_hundred_intents(
    stripe_harness,
):
    """Without search (a Stripe-compatible server answering 400 to it) the intent
    list is scanned: ours is past the first page."""
    client = _client(stripe_harness.proxy.upstream)
    for _ in range(101):  # localstripe lists oldest first: ours is past the first page
        client.v1.payment_intents.create(params=_intent(f"other-{uuid.uuid4().hex}"))

    async def scenario():
        adapter = stripe_harness.adapter()
        try:
            req, paid = await _paid(adapter, 1_234)
            client.v1.payment_intents.create(
                params=_intent(f"later-{uuid.uuid4().hex}")
            )
            stripe_harness.proxy.clear()
            stripe_harness.proxy.inject("400", match="/v1/payment_intents/search")
            return paid, await adapter.sync(req.payment_id)
        finally:
            await adapter.aclose()

    paid, found = asyncio.run(scenario())
    assert found is not None and found.gateway_ref == paid.gateway_ref
    assert found.status == PaymentStatus.CAPTURED and found.captured_minor == 1_234
    lists = [r for r in stripe_harness.proxy.requests
             if r.startswith("GET /v1/payment_intents?")]
    assert len(lists) >= 2  # it did scan, past the first page


def test_a_charge_search_does_not_know_is_not_found_without_scanning_every_intent(
    stripe_harness,
):
    """Search answers for our payment id; an empty answer is "not found" (status
    sync holds it unknown for its consistency window), with no scan of the list."""
    client = _client(stripe_harness.proxy.upstream)
    for _ in range(101):
        client.v1.payment_intents.create(params=_intent(f"other-{uuid.uuid4().hex}"))

    async def scenario():
        adapter = stripe_harness.adapter()
        try:
            req, paid = await _paid(adapter, 2_345)
            stripe_harness.proxy.clear()
            return (await adapter.sync(req.payment_id),
                    await adapter.sync(f"pay_never_sent_{uuid.uuid4().hex[:8]}-1"), paid)
        finally:
            await adapter.aclose()

    found, missing, paid = asyncio.run(scenario())
    assert found is not None and found.gateway_ref == paid.gateway_ref
    assert missing is None
    assert not [r for r in stripe_harness.proxy.requests
                if r.startswith("GET /v1/payment_intents?")]


def _paid_and_listed(stripe_harness, amount_minor: int):
    """Pay `amount_minor` through a fresh adapter, then list every intent with it."""
    async def scenario():
        adapter = stripe_harness.adapter()
        try:
            req, paid = await _paid(adapter, amount_minor)
            return req, paid, await adapter.records()
        finally:
            await adapter.aclose()

    return asyncio.run(scenario())


def test_the_adapter_lists_every_intent_for_reconciliation(stripe_harness):
    req, paid, records = _paid_and_listed(stripe_harness, 777)
    mine = [r for r in records if r.payment_id == req.payment_id]
    assert [(r.gateway_ref, r.captured_minor) for r in mine] == [
        (paid.gateway_ref, 777)
    ]
    assert len(records) == len({r.gateway_ref for r in records})


def test_reconciliation_lists_every_page_past_the_lookup_cap(stripe_harness, monkeypatch):
    """A lookup stops after MAX_LOOKUP_PAGES; the reconciliation list must not, or every
    intent past the cap reads as a payment Stripe never charged. Here the cap is one
    page and ours is on the second."""
    from integrations.gateways.stripe import adapter as stripe_adapter

    monkeypatch.setattr(stripe_adapter, "MAX_LOOKUP_PAGES", 1)
    client = _client(stripe_harness.proxy.upstream)
    for _ in range(100):  # localstripe lists oldest first
        client.v1.payment_intents.create(params=_intent(f"other-{uuid.uuid4().hex}"))
    req, paid, records = _paid_and_listed(stripe_harness, 4_321)
    assert len(records) > 100
    mine = [r for r in records if r.payment_id == req.payment_id]
    assert [(r.gateway_ref, r.captured_minor) for r in mine] == [(paid.gateway_ref, 4_321)]


def test_a_charge_re_sent_while_its_lookup_also_fails_is_answered_by_its_key_not_repeated(
    stripe_harness,
):
    """The answer is lost and the status lookup fails too, so the resilient wrapper
    sends the charge again: Stripe answers it with the first intent (one charge)."""
    from integrations.gateways.resilience import (
        CircuitBreaker,
        ResilientGateway,
        RetryPolicy,
    )

    async def scenario():
        adapter = stripe_harness.adapter(timeout_s=2)
        policy = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05)
        gateway = ResilientGateway(adapter, policy, CircuitBreaker())
        req = AuthorizeRequest(
            payment_id=f"pay_{uuid.uuid4().hex[:12]}-1",
            amount_minor=1_500,
            currency="USD",
            payment_method="pm_card_visa",
        )
        stripe_harness.proxy.inject("drop_after", match="POST /v1/payment_intents ")
        stripe_harness.proxy.inject("5xx", times=2, match="GET /v1/payment_intents")
        try:
            return req, await gateway.authorize(req)
        finally:
            await gateway.aclose()

    req, result = asyncio.run(scenario())
    stripe_harness.proxy.clear()
    assert result.status == PaymentStatus.CAPTURED
    mine = _mine(_client(stripe_harness.proxy.upstream), req.payment_id)
    assert [i.id for i in mine] == [result.gateway_ref]
