"""Event delivery: the outbox relay publishes every event at least once, consumers
see each once, and a failing subscriber's events are retried, parked durably and
replayed."""

from __future__ import annotations

import asyncio

import pytest

from serving.events import EVENT_TYPES, Deduper, Event, LocalBus, OutboxRelay
from serving.ledger import Ledger
from tests.serving.conftest import auth, pay_body
from tests.serving.ledger.conftest import run_ledger


def _events(n: int) -> list[Event]:
    return [Event(type="payment_processed", merchant_id="m", payment_id=f"p{i}")
            for i in range(n)]


def test_the_relay_delivers_every_event_at_least_once_across_a_crash(tmp_path):
    async def body(ledger: Ledger):
        sent = _events(5)
        await ledger.add_events(sent)
        raw, seen, dedupe, crashed = [], [], Deduper(), asyncio.Event()

        async def consumer(event: Event) -> None:
            raw.append(event.id)
            if dedupe.add(event.id):
                seen.append(event.id)
            if len(raw) == 3 and not crashed.is_set():  # the process dies mid-batch
                crashed.set()
                await asyncio.Event().wait()

        first = OutboxRelay(ledger, consumer, poll_s=0.05)
        first.start()
        await crashed.wait()
        await first.stop()  # published three, marked none
        unmarked = await ledger.outbox.unpublished()
        second = OutboxRelay(ledger, consumer, poll_s=0.05)
        second.start()
        drained = await second.drain()
        await second.stop()
        return [e.id for e in sent], raw, seen, unmarked, drained

    ids, raw, seen, unmarked, drained = run_ledger(f"sqlite:///{tmp_path}/l.db", body)
    assert unmarked == 5 and drained
    assert raw == ids[:3] + ids  # the first three went out twice
    assert seen == ids  # the deduping consumer saw each once


def test_a_commit_wakes_the_relay_without_waiting_for_its_poll(tmp_path):
    async def body(ledger: Ledger):
        got = asyncio.Queue()
        relay = OutboxRelay(ledger, got.put, poll_s=60)
        relay.start()
        await asyncio.sleep(0.05)  # the relay's first (empty) batch is done
        await ledger.add_events(_events(1))
        event = await asyncio.wait_for(got.get(), timeout=2)
        await relay.stop()
        return event, ledger.on_events

    event, hook = run_ledger(f"sqlite:///{tmp_path}/l.db", body)
    assert event.payment_id == "p0" and hook is None  # stopped relays unhook


def test_a_failing_subscriber_is_parked_durably_and_replay_reaches_only_it(tmp_path):
    url = f"sqlite:///{tmp_path}/l.db"
    good, flaky, broken = [], [], [True]

    async def on_good(event: Event) -> None:
        good.append(event.type)

    async def on_flaky(event: Event) -> None:
        if broken[0]:
            raise ConnectionError("downstream is down")
        flaky.append(event.type)

    async def serve(ledger: Ledger, step):
        bus = LocalBus(retries=1, dlq=ledger.dead_letters)
        bus.subscribe("good", on_good)
        bus.subscribe("flaky", on_flaky)
        relay = OutboxRelay(ledger, bus.publish, poll_s=0.05)
        await bus.start()
        relay.start()
        try:
            return await step(bus, relay)
        finally:
            await relay.stop()
            await bus.close()

    async def first_process(bus, relay):
        await relay.ledger.add_events(_events(2))
        await relay.drain()
        await bus.drain()
        return await bus.dlq()

    async def after_restart(bus, relay):
        broken[0] = False
        replayed = await bus.replay()
        await relay.drain()
        await bus.drain()
        return replayed, await bus.dlq()

    parked = run_ledger(url, lambda led: serve(led, first_process))
    assert [(d["handler"], d["error"]) for d in parked] == [
        ("flaky", "ConnectionError: downstream is down")] * 2
    replayed, left = run_ledger(url, lambda led: serve(led, after_restart))
    assert (replayed, left) == ({"replayed": 2}, [])
    assert flaky == ["payment_processed"] * 2
    assert good == ["payment_processed"] * 4  # a new process: its deduper starts empty


def test_one_process_hands_an_event_id_to_each_handler_once(tmp_path):
    async def body(ledger: Ledger):
        got = []
        bus = LocalBus(dlq=ledger.dead_letters)
        bus.subscribe("h", lambda e: asyncio.sleep(0, got.append(e.id)))
        once = _events(1)[0]
        for _ in range(3):
            await bus.publish(once)
        await bus.drain()
        await bus.close()
        return got, once.id

    got, event_id = run_ledger(f"sqlite:///{tmp_path}/l.db", body)
    assert got == [event_id]


def test_a_bus_refuses_a_dead_letter_store_it_cannot_use(tmp_path):
    with pytest.raises(TypeError, match="ledger.dead_letters"):
        LocalBus(dlq=object())


def test_the_deduper_remembers_the_most_recent_ids_only():
    seen = Deduper(size=3)
    assert [seen.add(k) for k in "abca"] == [True, True, True, False]
    assert seen.add("d") and "a" not in seen and seen.add("a")


class _QueuedClient:
    """A WebSocket client as the hub's fan-out sees it: no direct writer, a queue."""

    def __init__(self) -> None:
        self.types, self.direct, self.sending = frozenset(EVENT_TYPES), None, False
        self.queue: asyncio.Queue[str] = asyncio.Queue()


def test_the_websocket_hub_fans_out_an_event_id_once():
    from serving.ws import Hub

    async def body():
        hub = Hub()
        client = _QueuedClient()
        hub._by_merchant["m"] = {client}
        event = _events(1)[0]
        for _ in range(3):
            await hub.deliver(event)
            await asyncio.sleep(0)
        return client.queue.qsize()

    assert asyncio.run(body()) == 1


def test_the_admin_dlq_lists_parked_events_and_replay_requeues_them(client):
    rt, seen, broken = client.app.state.rt, [], [True]

    async def flaky(event):
        if broken[0]:
            raise ConnectionError("downstream is down")
        seen.append(event.type)

    async def settle():
        await rt.relay.drain()
        await rt.bus.drain()

    rt.bus.subscribe("flaky", flaky)
    client.post("/pay", json=pay_body(), headers=auth(key="e1"))
    client.portal.call(settle)
    admin = auth("ops", ["admin"])
    dlq = client.get("/admin/dlq", headers=admin).json()
    assert {d["handler"] for d in dlq} == {"flaky"} and dlq
    assert seen == []
    assert f"smartpay_dlq_depth {len(dlq)}.0" in client.get("/metrics").text
    broken[0] = False
    replayed = client.post("/admin/dlq/replay", headers=admin).json()
    assert replayed["replayed"] == len(dlq)
    client.portal.call(settle)
    assert sorted(seen) == sorted(d["event"]["type"] for d in dlq)
    assert client.get("/admin/dlq", headers=admin).json() == []


def _approvals() -> dict[str, float]:
    from serving.observability import REGISTRY

    return {g: REGISTRY.get_sample_value("smartpay_gateway_approvals_total",
                                         {"gateway": g}) or 0.0
            for g in ("stripe", "amazon_pay", "solana")}


def test_metrics_count_payments_per_gateway_and_latency_per_endpoint(client):
    before = _approvals()
    p = client.post("/pay", json=pay_body(), headers=auth(key="m")).json()
    after = _approvals()
    assert {g: after[g] - before[g] for g in after if after[g] != before[g]} == {
        p["gateway"]: 1.0}
    text = client.get("/metrics").text
    assert 'smartpay_request_seconds_count{endpoint="/pay",method="POST",status="200"}' in text
    assert "smartpay_fraud_score_bucket" in text and "smartpay_breaker_open" in text


def test_every_answer_carries_a_request_id(client):
    r = client.get("/health", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(client.get("/health").headers["x-request-id"]) == 16
