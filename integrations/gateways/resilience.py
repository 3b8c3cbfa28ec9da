"""Resilience in one place: call timeouts, retries with backoff + jitter, circuit breaker.

`ResilientGateway` wraps any `GatewayAdapter` and keeps the same protocol, so the
serving layer composes wrapped adapters and fails over when a call raises a
retryable `GatewayError` (including CIRCUIT_OPEN, raised without sending anything).

Idempotency keys are passed to gateways but never relied on: after an ambiguous
failure (timeout, dropped connection, 5xx) the wrapper first asks the gateway what
happened (`sync`) and only re-sends when the gateway never saw the operation.
Ambiguous refunds are not re-sent at all: a second refund could pay twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Awaitable, Callable, TypeVar

from integrations.gateways.base import (
    HEALTH_KINDS,
    AuthorizeRequest,
    ErrorKind,
    GatewayAdapter,
    GatewayError,
    PaymentResult,
    PaymentStatus,
    RefundResult,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_CAPTURED = {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}


class BreakerState(StrEnum):
    """Circuit breaker states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class BreakerConfig:
    """Opens when `failure_rate` of the last `window` calls (at least `min_calls`) failed."""

    window: int = 20
    min_calls: int = 5
    failure_rate: float = 0.5
    open_seconds: float = 10.0
    half_open_probes: int = 1


@dataclass
class CircuitBreaker:
    """Per-gateway breaker on a failure rate, with half-open probes after a cool-down."""

    config: BreakerConfig = field(default_factory=BreakerConfig)
    clock: Callable[[], float] = time.monotonic
    state: BreakerState = BreakerState.CLOSED
    _results: deque = field(default_factory=deque)
    _opened_at: float = 0.0
    _probes: int = 0

    def allow(self) -> bool:
        """May a call go out now? Moves OPEN to HALF_OPEN after the cool-down."""
        if self.state == BreakerState.OPEN:
            if self.clock() - self._opened_at < self.config.open_seconds:
                return False
            self.state, self._probes = BreakerState.HALF_OPEN, 0
        if self.state == BreakerState.HALF_OPEN:
            if self._probes >= self.config.half_open_probes:
                return False
            self._probes += 1
        return True

    def record(self, ok: bool) -> None:
        """Record one call's outcome (declines count as healthy answers)."""
        if self.state == BreakerState.HALF_OPEN:
            self._close() if ok else self._open()
            return
        self._results.append(ok)
        while len(self._results) > self.config.window:
            self._results.popleft()
        if self._failure_rate_exceeded():
            self._open()

    def _failure_rate_exceeded(self) -> bool:
        n = len(self._results)
        failures = n - sum(self._results)
        return n >= self.config.min_calls and failures / n >= self.config.failure_rate

    def _open(self) -> None:
        self.state, self._opened_at = BreakerState.OPEN, self.clock()
        log.warning("circuit opened after failures")

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self._results.clear()


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, for retryable errors only."""

    attempts: int = 3
    base_delay_s: float = 0.05
    max_delay_s: float = 1.0
    call_timeout_s: float = 10.0
    retry_kinds: frozenset = frozenset({ErrorKind.TIMEOUT, ErrorKind.NETWORK, ErrorKind.GATEWAY})
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        cap = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        return self.rng.uniform(0, cap)


Resolver = Callable[[GatewayError], Awaitable[T | None]]


class ResilientGateway:
    """A `GatewayAdapter` with timeouts, retries and a circuit breaker around another."""

    def __init__(
        self,
        inner: GatewayAdapter,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner, self.name = inner, inner.name
        self.policy = policy or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep

    async def authorize(self, req: AuthorizeRequest) -> PaymentResult:
        """Authorize; an ambiguous failure is resolved by sync before any re-send."""

        async def resolve(err: GatewayError) -> PaymentResult | None:
            return await self._quiet_sync(req.payment_id, err.gateway_ref)

        return await self._run(lambda: self.inner.authorize(req), resolve)

    async def capture(
        self, gateway_ref: str, amount_minor: int | None = None, *, payment_id: str
    ) -> PaymentResult:
        """Capture; re-sent only if sync shows nothing was captured."""

        async def resolve(err: GatewayError) -> PaymentResult | None:
            found = await self._quiet_sync(payment_id, gateway_ref)
            return found if found and found.status in _CAPTURED else None

        call = lambda: self.inner.capture(gateway_ref, amount_minor, payment_id=payment_id)  # noqa: E731
        return await self._run(call, resolve)

    async def void(self, gateway_ref: str, *, payment_id: str) -> PaymentResult:
        """Void; re-sent only if sync shows the payment is not voided yet."""

        async def resolve(err: GatewayError) -> PaymentResult | None:
            found = await self._quiet_sync(payment_id, gateway_ref)
            return found if found and found.status == PaymentStatus.VOIDED else None

        return await self._run(lambda: self.inner.void(gateway_ref, payment_id=payment_id), resolve)

    async def refund(
        self, gateway_ref: str, amount_minor: int | None = None, *, refund_id: str
    ) -> RefundResult:
        """Refund; never re-sent after an ambiguous failure (could pay twice)."""
        call = lambda: self.inner.refund(gateway_ref, amount_minor, refund_id=refund_id)  # noqa: E731
        return await self._run(call, None, resend_ambiguous=False)

    async def sync(self, payment_id: str, gateway_ref: str | None = None) -> PaymentResult | None:
        """Read the payment's status (reads are always safe to retry)."""
        return await self._run(lambda: self.inner.sync(payment_id, gateway_ref), None)

    async def aclose(self) -> None:
        """Close the wrapped adapter."""
        await self.inner.aclose()

    async def _run(
        self,
        call: Callable[[], Awaitable[T]],
        resolve: Resolver | None,
        resend_ambiguous: bool = True,
    ) -> T:
        unresolved: GatewayError | None = None  # a try that may have gone through
        for attempt in range(self.policy.attempts):
            err = await self._attempt(call)
            if not isinstance(err, GatewayError):
                return err
            if err.ambiguous and resolve is not None:
                found = await resolve(err)
                if found is not None:
                    return found
            if err.ambiguous:
                unresolved = err
            last = attempt == self.policy.attempts - 1
            if last or not self._should_retry(err, resend_ambiguous):
                # "never sent" holds for this try only: after a try that may have
                # reached the gateway, the call's outcome is still unknown (failing
                # over on it could charge twice)
                raise err if err.sent or unresolved is None else unresolved
            await self._sleep(self.policy.delay(attempt))
        raise AssertionError("unreachable")

    def _should_retry(self, err: GatewayError, resend_ambiguous: bool) -> bool:
        if err.kind not in self.policy.retry_kinds:
            return False
        return resend_ambiguous or not err.ambiguous

    async def _attempt(self, call: Callable[[], Awaitable[T]]) -> T | GatewayError:
        if not self.breaker.allow():
            return GatewayError(
                self.name, ErrorKind.CIRCUIT_OPEN, "circuit breaker is open", sent=False
            )
        try:
            result = await asyncio.wait_for(call(), self.policy.call_timeout_s)
        except asyncio.TimeoutError:
            err = GatewayError(self.name, ErrorKind.TIMEOUT, "call deadline exceeded")
        except GatewayError as exc:
            err = exc
        else:
            self.breaker.record(True)
            return result
        self.breaker.record(err.kind not in HEALTH_KINDS)
        log.info("gateway %s call failed: %s", self.name, err.kind.value)
        return err

    async def _quiet_sync(self, payment_id: str, gateway_ref: str | None) -> PaymentResult | None:
        try:
            return await asyncio.wait_for(
                self.inner.sync(payment_id, gateway_ref), self.policy.call_timeout_s
            )
        except (GatewayError, asyncio.TimeoutError):
            return None
