"""One contract, every gateway: the same scenarios against Stripe, Amazon Pay and Solana.

Each test runs three times (see the `harness` fixture) against the real stand-in,
through a fault-injecting proxy.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from integrations.gateways.base import AuthorizeRequest, ErrorKind, GatewayError, PaymentStatus, RefundStatus
from integrations.gateways.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    ResilientGateway,
    RetryPolicy,
)


def run(coro):
    return asyncio.run(coro)


def pid() -> str:
    return f"pay-{uuid.uuid4().hex[:12]}"


async def _authorize(h, adapter, amount=1000, capture=True, decline=False, payment_id=None):
    payment_id = payment_id or pid()
    method = await h.method(adapter, payment_id, amount, capture=capture, decline=decline)
    req = AuthorizeRequest(payment_id=payment_id, amount_minor=amount, currency="USD",
                           payment_method=method, capture=capture)
    return req, await adapter.authorize(req)


def _wrapped(adapter, attempts=3, breaker=None) -> ResilientGateway:
    policy = RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.05, call_timeout_s=20)
    return ResilientGateway(adapter, policy, breaker or CircuitBreaker())


def test_authorize_with_capture_should_end_captured_for_the_full_amount(harness):
    async def scenario():
        adapter = harness.adapter()
        try:
            _, result = await _authorize(harness, adapter, amount=1999)
            synced = await adapter.sync(result.payment_id, result.gateway_ref)
        finally:
            await adapter.aclose()
        assert result.status == PaymentStatus.CAPTURED
        assert (result.captured_minor, synced.status) == (1999, PaymentStatus.CAPTURED)

    run(scenario())


def test_hard_decline_should_raise_a_hard_decline_that_is_not_retryable(harness):
    async def scenario():
        adapter = harness.adapter()
        try:
            with pytest.raises(GatewayError) as info:
                await _authorize(harness, adapter, decline=True)
        finally:
            await adapter.aclose()
        assert info.value.kind == ErrorKind.HARD_DECLINE and not info.value.retryable
        assert info.value.code  # the gateway's own code is kept

    run(scenario())


def test_manual_capture_should_move_an_authorization_to_captured(harness):
    async def scenario():
        adapter = harness.adapter()
        try:
            req, auth = await _authorize(harness, adapter, amount=1500, capture=False)
            captured = await adapter.capture(auth.gateway_ref, payment_id=req.payment_id)
        finally:
            await adapter.aclose()
        assert auth.status == PaymentStatus.AUTHORIZED and auth.captured_minor == 0
        assert captured.status == PaymentStatus.CAPTURED and captured.refundable_minor == 1500

    run(scenario())


def test_void_should_release_an_uncaptured_authorization(harness):
    async def scenario():
        adapter = harness.adapter()
        try:
            req, auth = await _authorize(harness, adapter, capture=False)
            voided = await adapter.void(auth.gateway_ref, payment_id=req.payment_id)
        finally:
            await adapter.aclose()
        assert voided.status == PaymentStatus.VOIDED and voided.refundable_minor == 0

    run(scenario())


def test_partial_then_full_refund_should_leave_nothing_refundable(harness):
    async def scenario():
        adapter = harness.adapter()
        try:
            req, paid = await _authorize(harness, adapter, amount=1000)
            part = await adapter.refund(paid.gateway_ref, 300, refund_id=f"{req.payment_id}-r1")
            after_part = await adapter.sync(req.payment_id, paid.gateway_ref)
            rest = await adapter.refund(paid.gateway_ref, refund_id=f"{req.payment_id}-r2")
            after_all = await adapter.sync(req.payment_id, paid.gateway_ref)
        finally:
            await adapter.aclose()
        assert part.amount_minor == 300 and part.status != RefundStatus.FAILED
        assert after_part.status == PaymentStatus.PARTIALLY_REFUNDED and after_part.refundable_minor == 700
        assert rest.amount_minor == 700
        assert after_all.status == PaymentStatus.REFUNDED and after_all.refundable_minor == 0

    run(scenario())


def test_refund_above_the_captured_amount_should_be_rejected(harness):
    async def scenario():
        adapter = harness.adapter()
        try:
            req, paid = await _authorize(harness, adapter, amount=1000)
            await adapter.refund(paid.gateway_ref, 400, refund_id=f"{req.payment_id}-r1")
            with pytest.raises(GatewayError) as info:
                await adapter.refund(paid.gateway_ref, 601, refund_id=f"{req.payment_id}-r2")
            after = await adapter.sync(req.payment_id, paid.gateway_ref)
        finally:
            await adapter.aclose()
        assert info.value.kind == ErrorKind.INVALID_REQUEST
        assert after.refunded_minor == 400

    run(scenario())


def test_capturing_twice_should_capture_once(harness):
    """A re-sent capture is refused or answered with the first capture (its key is
    derived from the attempt); either way the payment is captured once."""

    async def scenario():
        adapter = harness.adapter()
        try:
            req, auth = await _authorize(harness, adapter, amount=1000, capture=False)
            await adapter.capture(auth.gateway_ref, payment_id=req.payment_id)
            try:
                again = await adapter.capture(auth.gateway_ref, payment_id=req.payment_id)
            except GatewayError as err:
                assert err.kind == ErrorKind.INVALID_REQUEST
            else:
                assert again.status == PaymentStatus.CAPTURED
            after = await adapter.sync(req.payment_id, auth.gateway_ref)
        finally:
            await adapter.aclose()
        assert after.status == PaymentStatus.CAPTURED and after.captured_minor == 1000

    run(scenario())


@pytest.mark.parametrize("fault", ["delay", "drop_after"])
def test_lost_answer_after_the_gateway_charged_should_be_resolved_by_status_sync(harness, fault):
    """The gateway did the work but we saw a timeout / dropped connection: no second charge."""

    async def scenario():
        adapter = harness.adapter(timeout_s=0.6)
        gateway = _wrapped(adapter)
        try:
            payment_id = pid()
            method = await harness.method(adapter, payment_id, 800)
            harness.proxy.inject(fault, match=harness.authorize_match, delay_s=1.5)
            start = len(harness.proxy.requests)
            req = AuthorizeRequest(payment_id=payment_id, amount_minor=800, currency="USD", payment_method=method)
            result = await gateway.authorize(req)
            sends = [r for r in harness.proxy.requests[start:] if harness.authorize_match in r]
        finally:
            await gateway.aclose()
        assert result.status == PaymentStatus.CAPTURED and result.captured_minor == 800
        assert len(sends) == 1  # resolved by sync, never re-sent

    run(scenario())


def test_a_capture_whose_answer_was_lost_should_be_resolved_by_sync_without_capturing_again(harness):
    async def scenario():
        adapter = harness.adapter(timeout_s=0.6)
        gateway = _wrapped(adapter)
        try:
            req, auth = await _authorize(harness, adapter, amount=900, capture=False)
            harness.proxy.inject("drop_after", match=harness.capture_match)
            start = len(harness.proxy.requests)
            captured = await gateway.capture(auth.gateway_ref, payment_id=req.payment_id)
            sends = [r for r in harness.proxy.requests[start:] if harness.capture_match in r]
        finally:
            await gateway.aclose()
        assert captured.status == PaymentStatus.CAPTURED and captured.captured_minor == 900
        assert len(sends) == 1

    run(scenario())


def test_connection_dropped_before_the_gateway_saw_it_should_be_retried_once_and_succeed(harness):
    async def scenario():
        adapter = harness.adapter(timeout_s=2)
        gateway = _wrapped(adapter)
        try:
            payment_id = pid()
            method = await harness.method(adapter, payment_id, 700)
            harness.proxy.inject("drop", match=harness.authorize_match)
            req = AuthorizeRequest(payment_id=payment_id, amount_minor=700, currency="USD", payment_method=method)
            result = await gateway.authorize(req)
        finally:
            await gateway.aclose()
        assert result.status == PaymentStatus.CAPTURED and result.captured_minor == 700

    run(scenario())


def test_a_5xx_burst_should_open_the_breaker_and_a_half_open_probe_should_close_it(harness):
    async def scenario():
        adapter = harness.adapter(timeout_s=2)
        breaker = CircuitBreaker(BreakerConfig(window=4, min_calls=3, failure_rate=0.5, open_seconds=0.3))
        gateway = _wrapped(adapter, attempts=1, breaker=breaker)
        try:
            methods = [(p, await harness.method(adapter, p, 500)) for p in [pid() for _ in range(5)]]
            harness.proxy.inject("5xx", times=1000)
            kinds = [await _failing(gateway, p, m) for p, m in methods[:3]]
            seen = len(harness.proxy.requests)
            refused = await _failing(gateway, *methods[3])
            untouched = len(harness.proxy.requests) == seen
            harness.proxy.clear()
            await asyncio.sleep(0.35)
            probe = await gateway.authorize(_req(*methods[4], 500))
        finally:
            await gateway.aclose()
        assert kinds == [ErrorKind.GATEWAY] * 3
        assert refused == ErrorKind.CIRCUIT_OPEN and untouched
        assert probe.status == PaymentStatus.CAPTURED and breaker.state == BreakerState.CLOSED

    run(scenario())


def test_persistent_network_failure_should_exhaust_retries_and_charge_nothing(harness):
    async def scenario():
        adapter = harness.adapter(timeout_s=1)
        gateway = _wrapped(adapter, attempts=3)
        try:
            payment_id = pid()
            method = await harness.method(adapter, payment_id, 600)
            harness.proxy.inject("drop", times=1000)
            with pytest.raises(GatewayError) as info:
                await gateway.authorize(_req(payment_id, method, 600))
            harness.proxy.clear()
            ref = method if harness.name == "amazon_pay" else None
            after = await adapter.sync(payment_id, ref)
        finally:
            await gateway.aclose()
        assert info.value.retryable and info.value.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT)
        assert after is None or after.captured_minor == 0

    run(scenario())


def _req(payment_id: str, method: str, amount: int) -> AuthorizeRequest:
    return AuthorizeRequest(payment_id=payment_id, amount_minor=amount, currency="USD", payment_method=method)


async def _failing(gateway, payment_id: str, method: str) -> ErrorKind:
    try:
        await gateway.authorize(_req(payment_id, method, 500))
    except GatewayError as err:
        return err.kind
    raise AssertionError("the call should have failed")
