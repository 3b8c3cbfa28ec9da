"""The small typed protocols the payment domain composes. Each real piece (BentoML
model services, gateway adapters, reward minter, assistant) is adapted to one of these
(`serving/services.py`, `serving/gateways.py`, `serving/rewards.py`,
`serving/assistant.py`), so the domain never depends on another package's internals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from serving.schemas import FraudRequest, FraudResult, RouteRequest, RouteResult

GatewayState = Literal["authorized", "captured", "declined", "failed", "voided",
                       "refunded", "pending", "not_found"]
ErrorClass = Literal["hard", "soft", "timeout", "unreachable", "gateway", "breaker_open"]


@dataclass(frozen=True)
class GatewayResult:
    """What a gateway said: its state for our reference, its id, and why it failed."""

    state: GatewayState
    gateway_ref: str | None = None
    error_class: ErrorClass | None = None
    message: str = ""

    @property
    def retryable(self) -> bool:
        """Definite refusals that another gateway may accept (see
        `serving.payments.decisions.next_step`; a timeout is not one: it may have
        charged)."""
        return self.error_class in ("soft", "unreachable", "gateway", "breaker_open")


class FraudPort(Protocol):
    async def score(self, request: FraudRequest) -> FraudResult: ...


class RouterPort(Protocol):
    async def decide(self, request: RouteRequest, eligible: list[str]) -> RouteResult: ...
    async def feedback(self, decision_id: str, gateway: str, success: bool,
                       latency_ms: float, amount_minor: int, currency: str) -> dict: ...


class GatewayPort(Protocol):
    name: str

    def breaker_open(self) -> bool: ...
    def accepts(self, method_type: str, currency: str, channel: str) -> bool: ...
    # capture=False: authorize and hold (a payment sent to review); capture or void later
    async def prepare(self, reference: str, amount_minor: int, currency: str,
                      method_type: str, token: str,
                      capture: bool = True) -> tuple[str, str | None]: ...
    async def authorize(self, reference: str, amount_minor: int, currency: str,
                        method_token: str, capture: bool = True) -> GatewayResult: ...
    async def capture(self, reference: str, gateway_ref: str,
                      amount_minor: int) -> GatewayResult: ...
    async def void(self, reference: str, gateway_ref: str) -> GatewayResult: ...
    async def refund(self, reference: str, gateway_ref: str, amount_minor: int,
                     refund_key: str) -> GatewayResult: ...
    async def status(self, reference: str, gateway_ref: str | None) -> GatewayResult: ...


class RewardsPort(Protocol):
    async def mint(self, payment_id: str, user: str, amount_minor: int,
                   currency: str) -> dict: ...
    async def on_refund(self, payment_id: str, refunded_minor: int, user: str) -> dict: ...
    async def balance(self, user: str) -> dict: ...


class AssistantPort(Protocol):
    async def answer(self, merchant_id: str, message: str, session_id: str | None,
                     user_id: str | None = None) -> dict: ...
    async def warm(self) -> bool: ...
