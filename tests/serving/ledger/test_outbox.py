"""The transactional outbox: events commit with their state change or not at all."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from serving.events import Event
from serving.ledger import IllegalTransition, Ledger
from serving.ledger.tables import OutboxEvent, utcnow
from tests.serving.ledger.conftest import new_payment, run_ledger


def _event(pid: str | None = None, type_: str = "payment_processed") -> Event:
    return Event(type=type_, merchant_id="m", payment_id=pid, data={"n": 1})


async def _outbox(ledger: Ledger) -> list[dict]:
    o = OutboxEvent.__table__
    return await ledger.runner.run(
        lambda c: [dict(r) for r in c.execute(select(o).order_by(o.c.id)).mappings()])


def test_events_are_written_by_every_state_change_that_announces_them(ledger_url):
    async def body(ledger: Ledger):
        sent = [_event("p1"), _event("p1", "reward_minted"), _event("p1"), _event(),
                _event("p2", "fraud_detected")]
        await ledger.create_payment(id="p1", merchant_id="m", amount_minor=100,
                                    currency="USD", method_type="card",
                                    method_token="t", events=sent[:1])
        await ledger.record("p1", "captured", events=sent[1:2])
        await ledger.update_fields("p1", reason="ok", events=sent[2:3])
        await ledger.add_events(sent[3:4])
        await ledger.transition("p1", "refunded", events=sent[4:])
        return sent, await _outbox(ledger)

    sent, rows = run_ledger(ledger_url, body)
    assert [r["payload"] for r in rows] == [e.model_dump(mode="json") for e in sent]
    assert [r["event_id"] for r in rows] == [e.id for e in sent]
    assert all(r["published_at"] is None for r in rows)


def test_the_events_of_a_refused_transition_are_never_written(ledger_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger)
        with pytest.raises(IllegalTransition):
            await ledger.transition(pid, "refunded", events=[_event(pid)])
        return await _outbox(ledger), (await ledger.get(pid))["status"]

    assert run_ledger(ledger_url, body) == ([], "created")


def test_the_events_of_a_payment_that_failed_to_insert_are_never_written(sqlite_url):
    async def body(ledger: Ledger):
        await new_payment(ledger, id="p1")
        with pytest.raises(IntegrityError):
            await new_payment(ledger, id="p1", events=[_event("p1")])
        return await _outbox(ledger)

    assert run_ledger(sqlite_url, body) == []


def test_an_event_id_is_written_once_and_its_second_write_rolls_back_the_change(
        sqlite_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger)
        twice = _event(pid)
        await ledger.transition(pid, "authorized", events=[twice])
        with pytest.raises(IntegrityError):
            await ledger.transition(pid, "captured", events=[twice])
        return len(await _outbox(ledger)), (await ledger.get(pid))["status"]

    assert run_ledger(sqlite_url, body) == (1, "authorized")


def test_only_a_commit_that_wrote_events_wakes_the_relay(sqlite_url):
    async def body(ledger: Ledger):
        wakes = []
        ledger.on_events = lambda: wakes.append(1)
        pid = await new_payment(ledger)
        after_plain = len(wakes)
        await ledger.transition(pid, "authorized", events=[_event(pid)])
        return after_plain, len(wakes)

    assert run_ledger(sqlite_url, body) == (0, 1)


def test_a_relay_batch_publishes_in_order_and_marks_what_went_out(ledger_url):
    async def body(ledger: Ledger):
        events = [_event(f"p{i}") for i in range(5)]
        await ledger.add_events(events)
        got = []

        async def publish(payload: dict) -> None:
            if len(got) == 3:
                raise ConnectionError("bus down")
            got.append(payload["id"])

        first = await ledger.outbox.relay_batch(publish, limit=10)
        left = await ledger.outbox.unpublished()
        got.clear()
        second = await ledger.outbox.relay_batch(publish, limit=10)
        return events, first, left, second, got

    events, first, left, second, got = run_ledger(ledger_url, body)
    assert (first, left, second) == (3, 2, 2)
    assert got == [e.id for e in events[3:]]


@pytest.mark.prod
def test_two_relays_never_take_the_same_row_on_postgresql(postgres_url):
    async def body(ledger: Ledger):
        await ledger.add_events([_event(f"p{i}") for i in range(4)])
        taken, holding = [], asyncio.Event()

        async def slow(payload: dict) -> None:
            taken.append(("slow", payload["id"]))
            holding.set()
            await asyncio.sleep(0.3)  # keeps its rows locked meanwhile

        async def fast(payload: dict) -> None:
            taken.append(("fast", payload["id"]))

        first = asyncio.create_task(ledger.outbox.relay_batch(slow, limit=2))
        await holding.wait()
        second = await ledger.outbox.relay_batch(fast, limit=10)
        return await first, second, taken

    first, second, taken = run_ledger(postgres_url, body)
    ids = [i for _, i in taken]
    assert (first, second) == (2, 2) and len(set(ids)) == 4


async def _claim_all(ledger: Ledger, until) -> None:
    """What a relay that died mid-batch leaves: every row claimed until `until`."""
    o = OutboxEvent.__table__
    await ledger.runner.run(lambda c: c.execute(o.update().values(claimed_until=until)))


def test_rows_claimed_by_a_relay_that_died_are_sent_once_its_claim_expires(ledger_url):
    async def body(ledger: Ledger):
        await ledger.add_events([_event(f"p{i}") for i in range(3)])
        got = []

        async def publish(payload: dict) -> None:
            got.append(payload["id"])

        await _claim_all(ledger, utcnow() + timedelta(minutes=1))
        while claimed := await ledger.outbox.relay_batch(publish):
            pass
        await _claim_all(ledger, utcnow() - timedelta(seconds=1))
        expired = await ledger.outbox.relay_batch(publish)
        return claimed, expired, len(got), await ledger.outbox.unpublished()

    assert run_ledger(ledger_url, body) == (0, 3, 3, 0)


def test_a_relay_cancelled_mid_batch_marks_nothing_and_leaves_all_to_the_next(
        sqlite_url):
    async def body(ledger: Ledger):
        events = [_event(f"p{i}") for i in range(3)]
        await ledger.add_events(events)
        first_out, stuck = [], asyncio.Event()

        async def hangs_on_the_second(payload: dict) -> None:
            if first_out:
                stuck.set()
                await asyncio.Event().wait()
            first_out.append(payload["id"])

        task = asyncio.create_task(ledger.outbox.relay_batch(hangs_on_the_second))
        await stuck.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sent = []

        async def publish(payload: dict) -> None:
            sent.append(payload["id"])

        n = await ledger.outbox.relay_batch(publish)
        return [e.id for e in events], first_out, n, sent

    ids, first_out, n, sent = run_ledger(sqlite_url, body)
    assert first_out == ids[:1] and n == 3 and sent == ids
