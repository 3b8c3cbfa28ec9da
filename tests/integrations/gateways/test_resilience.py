"""The shared resilience layer: breaker state machine, backoff with jitter, retry rules."""

from __future__ import annotations

import asyncio
import random

from integrations.gateways.base import AuthorizeRequest, ErrorKind, GatewayError
from integrations.gateways.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    ResilientGateway,
    RetryPolicy,
)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _breaker(clock, **kw) -> CircuitBreaker:
    cfg = BreakerConfig(**{"window": 10, "min_calls": 4, "failure_rate": 0.5, "open_seconds": 5.0, **kw})
    return CircuitBreaker(cfg, clock=clock)


def test_breaker_should_stay_closed_until_min_calls_even_if_all_failed():
    b = _breaker(Clock())
    for _ in range(3):
        b.record(False)
    assert b.state == BreakerState.CLOSED and b.allow()


def test_breaker_should_open_at_the_failure_rate_and_refuse_calls_during_cool_down():
    clock = Clock()
    b = _breaker(clock)
    for ok in (True, True, False, False):
        b.record(ok)
    clock.t = 4.9
    assert b.state == BreakerState.OPEN and not b.allow()


def test_half_open_should_let_one_probe_through_and_close_on_its_success():
    clock = Clock()
    b = _breaker(clock)
    for _ in range(4):
        b.record(False)
    clock.t = 5.1
    first, second = b.allow(), b.allow()
    b.record(True)
    assert (first, second) == (True, False) and b.state == BreakerState.CLOSED


def test_a_failed_half_open_probe_should_reopen_for_a_new_cool_down():
    clock = Clock()
    b = _breaker(clock)
    for _ in range(4):
        b.record(False)
    clock.t = 5.1
    b.allow()
    b.record(False)
    clock.t = 9.0
    assert b.state == BreakerState.OPEN and not b.allow()


def test_backoff_should_grow_exponentially_with_full_jitter_under_the_cap():
    policy = RetryPolicy(base_delay_s=0.1, max_delay_s=0.5, rng=random.Random(7))
    delays = [[policy.delay(n) for _ in range(200)] for n in range(5)]
    assert all(0 <= d <= min(0.5, 0.1 * 2**n) for n, ds in enumerate(delays) for d in ds)
    assert max(delays[0]) < 0.1 < max(delays[2]) and len(set(delays[3])) > 100


class Scripted:
    """An adapter stand-in that raises a scripted sequence of gateway errors."""

    name = "scripted"

    def __init__(self, errors: list[GatewayError]) -> None:
        self.errors, self.calls = list(errors), 0

    async def authorize(self, req):
        self.calls += 1
        raise self.errors.pop(0)

    async def refund(self, ref, amount=None, *, refund_id):
        self.calls += 1
        raise self.errors.pop(0)

    async def sync(self, payment_id, gateway_ref=None):
        return None


def _err(kind: ErrorKind, sent: bool = True) -> GatewayError:
    return GatewayError("scripted", kind, "x", sent=sent)


def _run(gateway_call):
    try:
        asyncio.run(gateway_call)
    except GatewayError as err:
        return err
    raise AssertionError("expected a GatewayError")


async def _no_sleep(_):
    return None


REQ = AuthorizeRequest(payment_id="p", amount_minor=1, currency="USD", payment_method="m")


def test_hard_declines_should_not_be_retried():
    inner = Scripted([_err(ErrorKind.HARD_DECLINE)] * 3)
    err = _run(ResilientGateway(inner, RetryPolicy(attempts=3), sleep=_no_sleep).authorize(REQ))
    assert err.kind == ErrorKind.HARD_DECLINE and inner.calls == 1


def test_network_errors_should_be_retried_up_to_the_attempt_limit():
    inner = Scripted([_err(ErrorKind.NETWORK)] * 3)
    err = _run(ResilientGateway(inner, RetryPolicy(attempts=3), sleep=_no_sleep).authorize(REQ))
    assert err.kind == ErrorKind.NETWORK and inner.calls == 3


def test_an_ambiguous_refund_failure_should_never_be_resent():
    inner = Scripted([_err(ErrorKind.TIMEOUT)] * 3)
    gateway = ResilientGateway(inner, RetryPolicy(attempts=3), sleep=_no_sleep)
    err = _run(gateway.refund("ref", 100, refund_id="r1"))
    assert err.kind == ErrorKind.TIMEOUT and inner.calls == 1


def test_a_refund_that_certainly_never_left_should_be_retried():
    inner = Scripted([_err(ErrorKind.NETWORK, sent=False)] * 2 + [_err(ErrorKind.INVALID_REQUEST)])
    gateway = ResilientGateway(inner, RetryPolicy(attempts=3), sleep=_no_sleep)
    err = _run(gateway.refund("ref", 100, refund_id="r1"))
    assert err.kind == ErrorKind.INVALID_REQUEST and inner.calls == 3


def test_an_open_breaker_error_should_be_retryable_and_marked_unsent():
    breaker = CircuitBreaker(BreakerConfig(min_calls=1, window=1, open_seconds=60))
    inner = Scripted([_err(ErrorKind.NETWORK, sent=False)])
    gateway = ResilientGateway(inner, RetryPolicy(attempts=2), breaker, sleep=_no_sleep)
    err = _run(gateway.authorize(REQ))
    assert err.kind == ErrorKind.CIRCUIT_OPEN and err.retryable and not err.sent and inner.calls == 1


def test_a_call_whose_first_try_may_have_gone_through_stays_ambiguous_when_retries_never_leave():
    # the gateway charged on the first try and the answer was lost; it then went down
    # (connection refused), so the retries never reached it: failing over would charge
    # the customer twice
    inner = Scripted([_err(ErrorKind.NETWORK)] + [_err(ErrorKind.NETWORK, sent=False)] * 2)
    err = _run(ResilientGateway(inner, RetryPolicy(attempts=3), sleep=_no_sleep).authorize(REQ))
    assert err.ambiguous and inner.calls == 3


def test_an_open_breaker_after_a_try_that_may_have_gone_through_is_not_a_clean_refusal():
    breaker = CircuitBreaker(BreakerConfig(min_calls=1, window=1, open_seconds=60))
    inner = Scripted([_err(ErrorKind.TIMEOUT)])
    gateway = ResilientGateway(inner, RetryPolicy(attempts=2), breaker, sleep=_no_sleep)
    err = _run(gateway.authorize(REQ))
    assert err.kind == ErrorKind.TIMEOUT and err.ambiguous and inner.calls == 1
