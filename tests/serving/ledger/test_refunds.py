"""Refunds as conditional updates: reserved before the gateway call, kept or given
back after it, never more than the payment in total."""

from __future__ import annotations

import asyncio

import pytest

from serving.events import Event
from serving.ledger import Ledger, RefundRefused
from tests.serving.ledger.conftest import captured_payment, new_payment, run_ledger


def test_concurrent_refunds_never_exceed_the_captured_amount(ledger_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        tries = [ledger.reserve_refund(pid, f"r{i}", 900) for i in range(5)]
        outcomes = await asyncio.gather(*tries, return_exceptions=True)
        return outcomes, await ledger.get(pid)

    outcomes, payment = run_ledger(ledger_url, body)
    reserved = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, RefundRefused)]
    assert (len(reserved), len(refused)) == (3, 2)
    assert payment["refunded_minor"] == 2_700
    assert all(r.remaining == 300 and "300" in str(r) for r in refused)


def test_a_refund_larger_than_what_remains_is_refused_and_names_the_remainder(
        sqlite_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        await ledger.reserve_refund(pid, "r1", 2_000)
        with pytest.raises(RefundRefused) as exc:
            await ledger.reserve_refund(pid, "r2", 1_001)
        return exc.value, (await ledger.get(pid))["refunded_minor"]

    refused, refunded = run_ledger(sqlite_url, body)
    assert (refused.requested, refused.remaining, refunded) == (1_001, 1_000, 2_000)
    assert "at most the unrefunded 1000" in str(refused)


def test_a_payment_that_was_not_captured_cannot_be_refunded(sqlite_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger, 3_000)
        await ledger.transition(pid, "declined")
        with pytest.raises(RefundRefused) as exc:
            await ledger.reserve_refund(pid, "r1", 100)
        return str(exc.value)

    assert "it is declined; only captured payments" in run_ledger(sqlite_url, body)


def test_reserving_the_same_refund_id_twice_reserves_once(ledger_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        same = await asyncio.gather(*[ledger.reserve_refund(pid, "r1", 700)
                                      for _ in range(3)])
        return same, (await ledger.get(pid))["refunded_minor"]

    same, refunded = run_ledger(ledger_url, body)
    assert {r["refund_id"] for r in same} == {"r1"} and refunded == 700


def test_a_failed_refund_gives_its_amount_back_and_a_succeeded_one_keeps_it(
        ledger_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        await ledger.reserve_refund(pid, "ok", 1_000)
        await ledger.reserve_refund(pid, "ko", 500)
        kept = await ledger.finish_refund("ok", True, "re_1")
        back = await ledger.finish_refund("ko", False)
        return kept, back, await ledger.get(pid)

    kept, back, payment = run_ledger(ledger_url, body)
    assert (kept["state"], kept["gateway_ref"], kept["refunded_minor"]) == (
        "succeeded", "re_1", 1_500)
    assert (back["state"], back["refunded_minor"]) == ("failed", 1_000)
    assert payment["status"] == "captured" and payment["refunded_minor"] == 1_000
    assert payment["history"][-1] == "captured"  # the partial refund is recorded


def test_an_unknown_outcome_stays_pending_and_is_listed_for_reconciliation(sqlite_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        await ledger.reserve_refund(pid, "r1", 3_000)
        unknown = await ledger.finish_refund("r1", None, "re_1")
        pending = await ledger.pending_refunds()
        settled = await ledger.finish_refund("r1", True)
        return unknown, pending, settled, await ledger.pending_refunds()

    unknown, pending, settled, after = run_ledger(sqlite_url, body)
    assert (unknown["state"], unknown["payment_status"]) == ("pending", "captured")
    assert [r["refund_id"] for r in pending] == ["r1"]
    assert (settled["gateway_ref"], settled["payment_status"]) == ("re_1", "refunded")
    assert after == []


def test_the_payment_is_refunded_only_once_all_of_it_is_and_nothing_is_pending(
        ledger_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        await ledger.reserve_refund(pid, "a", 1_000)
        await ledger.reserve_refund(pid, "b", 2_000)
        first = await ledger.finish_refund("b", True)
        last = await ledger.finish_refund("a", True)
        return first, last, await ledger.get(pid)

    first, last, payment = run_ledger(ledger_url, body)
    assert (first["refunded_minor"], first["payment_status"]) == (3_000, "captured")
    assert last["payment_status"] == "refunded"
    assert payment["history"] == ["created", "authorized", "captured", "captured",
                                  "refunded"]


def test_finishing_a_settled_refund_again_changes_nothing(sqlite_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        await ledger.reserve_refund(pid, "r1", 1_000)
        await ledger.finish_refund("r1", False)
        again = await ledger.finish_refund("r1", True)
        return again, await ledger.get(pid)

    again, payment = run_ledger(sqlite_url, body)
    assert (again["state"], again["refunded_minor"]) == ("failed", 0)
    assert payment["history"][-1] == "captured" and len(payment["history"]) == 3


def test_a_settled_refund_commits_with_its_event(sqlite_url):
    async def body(ledger: Ledger):
        pid = await captured_payment(ledger, 3_000)
        await ledger.reserve_refund(pid, "r1", 3_000)
        done = Event(type="payment_processed", merchant_id="m", payment_id=pid)
        await ledger.finish_refund("r1", True, "re_1", events=[done])
        return await ledger.outbox.unpublished()

    assert run_ledger(sqlite_url, body) == 1
