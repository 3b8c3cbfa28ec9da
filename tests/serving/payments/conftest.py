"""A payment service wired to fakes (`world`): two card gateways, alpha then beta, a
scorer that approves, a router that keeps the eligible order, no rewards."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from serving.payments.service import PaymentService, Policy
from serving.schemas import PayRequest
from serving.security import Principal
from tests.serving.payments.fakes import (
    FakeCache, FakeClock, FakeFraud, FakeGateway, FakeRouter, FakeStore,
)


def who(merchant: str = "m1") -> Principal:
    return Principal(subject=f"client-{merchant}", merchant_id=merchant,
                     scopes=frozenset({"payments:write", "payments:read"}))


def pay_request(**over) -> PayRequest:
    body = {"amount_minor": 2_500, "currency": "USD", "customer_id": 7,
            "terminal_id": 11, "card_id": 14, "tx_epoch_s": 1_795_000_000, "channel": "ecommerce",
            "payment_method": {"type": "card", "token": "pm_card_visa"}}
    return PayRequest.model_validate(body | over)


@dataclass
class World:
    clock: FakeClock
    store: FakeStore
    fraud: FakeFraud
    router: FakeRouter
    gw: dict[str, FakeGateway]
    cache: FakeCache
    svc: PaymentService

    async def pay(self, key: str = "k1", merchant: str = "m1", **over):
        return await self.svc.pay(who(merchant), pay_request(**over), key)

    def run(self, coro):
        return asyncio.run(coro)

    async def drain(self) -> None:
        """Let the service's background work (router feedback) finish."""
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        await asyncio.gather(*others)

    def processed(self) -> list[dict]:
        """The `payment_processed` events' data, in outbox order."""
        return [e.data for e in self.store.events("payment_processed")]


@pytest.fixture
def world() -> World:
    clock = FakeClock()
    store = FakeStore(clock)
    gw = {n: FakeGateway(n) for n in ("alpha", "beta")}
    fraud, router, cache = FakeFraud(), FakeRouter(), FakeCache()
    svc = PaymentService(store=store, fraud=fraud, router=router, gateways=gw,
                         cache=cache, rewards=None, clock=clock,
                         policy=Policy(consistency_window_s=60.0, review_hold_s=3600.0))
    return World(clock, store, fraud, router, gw, cache, svc)
