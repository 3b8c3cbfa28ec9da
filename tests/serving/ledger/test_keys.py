"""Idempotency-Key claims: replay, conflict, in progress, and leases that a dead
holder loses."""

from __future__ import annotations

import asyncio

from serving.ledger import Ledger
from tests.serving.ledger.conftest import run_ledger


def test_a_claimed_key_replays_conflicts_or_reports_in_progress(ledger_url):
    async def body(ledger: Ledger):
        kinds = [(await ledger.claim("m", "k", h)).kind for h in ("h1", "h1", "h2")]
        await ledger.finish("m", "k", 200, {"ok": 1})
        return kinds, await ledger.claim("m", "k", "h1")

    kinds, again = run_ledger(ledger_url, body)
    assert kinds == ["new", "in_progress", "conflict"]
    assert (again.kind, again.status_code, again.response) == ("replay", 200, {"ok": 1})


def test_a_released_key_may_be_claimed_again(sqlite_url):
    async def body(ledger: Ledger):
        await ledger.claim("m", "k", "h1")
        await ledger.release("m", "k")
        return (await ledger.claim("m", "k", "h1")).kind

    assert run_ledger(sqlite_url, body) == "new"


def test_a_stuck_key_whose_lease_expired_is_taken_over_by_exactly_one_request(
        ledger_url):
    async def body(ledger: Ledger):
        await ledger.claim("m", "k", "h1", lease_s=0.05)  # its holder then dies
        early = (await ledger.claim("m", "k", "h1")).kind
        await asyncio.sleep(0.1)
        rivals = await asyncio.gather(*[ledger.claim("m", "k", "h1") for _ in range(5)])
        return early, sorted(c.kind for c in rivals)

    early, kinds = run_ledger(ledger_url, body)
    assert early == "in_progress"
    assert kinds == ["in_progress"] * 4 + ["new"]


def test_a_holder_that_renews_its_lease_keeps_the_key(sqlite_url):
    async def body(ledger: Ledger):
        lease = (await ledger.claim("m", "k", "h1", lease_s=0.1)).lease_until
        for _ in range(3):
            await asyncio.sleep(0.05)
            lease = await ledger.renew_lease("m", "k", lease, lease_s=0.1)
        return lease, (await ledger.claim("m", "k", "h1")).kind

    lease, kind = run_ledger(sqlite_url, body)
    assert lease is not None and kind == "in_progress"


def test_a_holder_whose_key_was_taken_over_cannot_renew_it(sqlite_url):
    async def body(ledger: Ledger):
        old = (await ledger.claim("m", "k", "h1", lease_s=0.01)).lease_until
        await asyncio.sleep(0.05)
        taken = await ledger.claim("m", "k", "h1")
        return taken.kind, await ledger.renew_lease("m", "k", old)

    assert run_ledger(sqlite_url, body) == ("new", None)
