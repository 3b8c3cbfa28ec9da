"""Adapter from `integrations.gateways` (ResilientGateway around each adapter) to the
flow's `GatewayPort`: typed requests in, `GatewayResult` out, errors classified as
hard / soft / timeout / gateway / breaker_open instead of raised."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.gateways.base import (
    AuthorizeRequest, ErrorKind, GatewayError, PaymentResult, PaymentStatus,
)
from integrations.gateways.resilience import BreakerState, ResilientGateway
from serving.ports import GatewayResult

_KIND = {
    ErrorKind.HARD_DECLINE: "hard", ErrorKind.SOFT_DECLINE: "soft",
    ErrorKind.TIMEOUT: "timeout", ErrorKind.NETWORK: "timeout",
    ErrorKind.GATEWAY: "gateway", ErrorKind.AUTH: "gateway",
    ErrorKind.INVALID_REQUEST: "hard", ErrorKind.CIRCUIT_OPEN: "breaker_open",
}
_STATE = {
    PaymentStatus.AUTHORIZED: "authorized", PaymentStatus.CAPTURED: "captured",
    PaymentStatus.PARTIALLY_REFUNDED: "captured", PaymentStatus.REFUNDED: "refunded",
    PaymentStatus.VOIDED: "voided", PaymentStatus.FAILED: "declined",
    PaymentStatus.PENDING: "pending", PaymentStatus.REQUIRES_ACTION: "pending",
}


@dataclass(frozen=True)
class Acceptance:
    """Which payments a gateway takes (None = any)."""

    method_types: frozenset[str]
    currencies: frozenset[str] | None = None
    channels: frozenset[str] | None = None


def _result(r: PaymentResult) -> GatewayResult:
    state = _STATE.get(r.status, "pending")
    error = "hard" if state == "declined" else None
    return GatewayResult(state, r.gateway_ref, error, r.decline_code or r.gateway_status)


def _error(e: GatewayError) -> GatewayResult:
    kind = _KIND.get(e.kind, "gateway")
    if kind == "timeout" and not e.sent:  # provably never reached the gateway
        kind = "unreachable"
    state = "declined" if kind == "hard" else "failed"
    return GatewayResult(state, e.gateway_ref, kind, str(e))


async def passthrough(reference: str, amount_minor: int, currency: str, method_type: str,
                      token: str, capture: bool = True) -> tuple[str, str | None]:
    """Most gateways take our payment-method token as it is."""
    return token, None


class GatewayPortAdapter:
    """One resilient gateway seen through the flow's `GatewayPort`.

    `prepare` turns our token into what the gateway charges (e.g. an approved Amazon
    Pay checkout session) and may return a gateway reference known before the charge,
    which the ledger keeps so status sync can find the payment after a crash.
    """

    def __init__(self, gw: ResilientGateway, accepts: Acceptance, prepare=passthrough) -> None:
        self.gw, self.name, self._accepts, self._prepare = gw, gw.name, accepts, prepare

    async def prepare(self, reference: str, amount_minor: int, currency: str,
                      method_type: str, token: str,
                      capture: bool = True) -> tuple[str, str | None]:
        return await self._prepare(reference, amount_minor, currency, method_type, token,
                                   capture)

    def breaker_open(self) -> bool:
        return self.gw.breaker.state == BreakerState.OPEN

    def accepts(self, method_type: str, currency: str, channel: str) -> bool:
        a = self._accepts
        return (method_type in a.method_types
                and (a.currencies is None or currency in a.currencies)
                and (a.channels is None or channel in a.channels))

    async def _do(self, call) -> GatewayResult:
        try:
            return _result(await call)
        except GatewayError as e:
            return _error(e)

    async def authorize(self, reference: str, amount_minor: int, currency: str,
                        method_token: str, capture: bool = True) -> GatewayResult:
        req = AuthorizeRequest(payment_id=reference, amount_minor=amount_minor,
                               currency=currency, payment_method=method_token,
                               capture=capture, idempotency_key=reference)
        return await self._do(self.gw.authorize(req))

    async def capture(self, reference: str, gateway_ref: str, amount_minor: int):
        return await self._do(self.gw.capture(gateway_ref, amount_minor,
                                              payment_id=reference))

    async def void(self, reference: str, gateway_ref: str) -> GatewayResult:
        return await self._do(self.gw.void(gateway_ref, payment_id=reference))

    async def refund(self, reference: str, gateway_ref: str, amount_minor: int,
                     refund_key: str) -> GatewayResult:
        try:
            r = await self.gw.refund(gateway_ref, amount_minor, refund_id=refund_key[:64])
        except GatewayError as e:
            return _error(e)
        ok = r.status.value in ("succeeded", "pending")  # pending = accepted, settling
        return GatewayResult("refunded" if ok else "failed", r.refund_ref,
                             None if ok else "gateway", r.gateway_status)

    async def status(self, reference: str, gateway_ref: str | None) -> GatewayResult:
        try:
            found = await self.gw.sync(reference, gateway_ref)
        except GatewayError as e:
            return GatewayResult("pending", gateway_ref, _KIND.get(e.kind), str(e))
        return GatewayResult("not_found") if found is None else _result(found)

    async def aclose(self) -> None:
        await self.gw.aclose()
