"""The reads reconciliation relies on: every payment with its attempts, and the
idempotency keys whose lease expired (their holder died before answering)."""

from __future__ import annotations

from serving.ledger import Ledger
from tests.serving.ledger.conftest import captured_payment, new_payment, run_ledger


def test_every_payment_comes_with_its_attempts_oldest_first(ledger_url):
    async def body(ledger: Ledger):
        first = await captured_payment(ledger)
        second = await new_payment(ledger, first_gateway="stripe")
        await ledger.start_attempt(second, 2, "amazon_pay")
        return first, second, await ledger.every_payment()

    first, second, every = run_ledger(ledger_url, body)
    assert [p["id"] for p in every] == [first, second]
    assert every[0]["attempts"] == []
    assert [(a["gateway"], a["reference"]) for a in every[1]["attempts"]] == [
        ("stripe", f"{second}-1"),
        ("amazon_pay", f"{second}-2"),
    ]


def test_only_keys_in_progress_with_an_expired_lease_are_stuck(ledger_url):
    async def body(ledger: Ledger):
        await ledger.claim("m", "dead", "h", lease_s=0.0)
        await ledger.claim("m", "alive", "h", lease_s=60.0)
        await ledger.claim("m", "answered", "h", lease_s=0.0)
        await ledger.finish("m", "answered", 200, {"ok": 1})
        return await ledger.stuck_keys()

    assert run_ledger(ledger_url, body) == [{"merchant_id": "m", "key": "dead"}]
