"""The prod bus over Redis Streams with several API processes: every process sees
every event (WebSocket fan-out), a `once` handler runs once per event in the whole
deployment, and what a dead process took without finishing is handled by another."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis

from serving.events import Event, RedisStreamBus

pytestmark = pytest.mark.prod


class _Parked:
    """A dead-letter store in memory (nothing here fails)."""

    def __init__(self) -> None:
        self.entries: list = []

    async def park(self, event, handler, error):
        self.entries.append((event.id, handler, error))
        return str(len(self.entries))

    async def list(self):
        return []

    async def requeue(self, entry_ids=None):
        return 0

    async def drop(self, entry_id):
        return False


def _recorder(seen: list, process: int):
    async def handle(event: Event) -> None:
        seen.append((process, event.id))
    return handle


async def _until(check, timeout_s: float = 15.0) -> None:
    end = time.monotonic() + timeout_s
    while not check() and time.monotonic() < end:
        await asyncio.sleep(0.05)


@pytest.fixture
def redis_url(prod_server):
    host, port = prod_server("redis")
    prefix = f"smartpay-test-{uuid.uuid4().hex[:8]}"
    yield f"redis://{host}:{port}/0", prefix
    r = redis.Redis(host, port)
    for key in r.scan_iter(f"{prefix}:*"):
        r.delete(key)


def test_every_process_sees_each_event_and_a_once_handler_runs_once_in_all(redis_url):
    url, prefix = redis_url
    fanout, pushes = [], []

    async def run():
        buses = [RedisStreamBus(url, prefix, dlq=_Parked()) for _ in range(3)]
        for i, bus in enumerate(buses):
            bus.subscribe("websocket", _recorder(fanout, i))
            bus.subscribe("fresh_features", _recorder(pushes, i), once=True)
            await bus.start()
        try:
            for n in range(30):
                await buses[n % 3].publish(Event(type="payment_created",
                                                 merchant_id="m", payment_id=f"p{n}"))
            await _until(lambda: len(fanout) >= 90 and len(pushes) >= 30)
            await asyncio.sleep(1.0)  # time for a second handling, were there one
        finally:
            for bus in buses:
                await bus.close()

    asyncio.run(run())
    assert len(fanout) == 90 and {p for p, _ in fanout} == {0, 1, 2}
    assert len(pushes) == 30 and len({e for _, e in pushes}) == 30


def test_an_event_a_dead_process_took_is_handled_by_another_after_the_claim_time(
        redis_url):
    url, prefix = redis_url
    stream, pushes = f"{prefix}:events", []

    async def run():
        first = RedisStreamBus(url, prefix, dlq=_Parked())
        first.subscribe("fresh_features", _recorder(pushes, 0), once=True)
        await first.start()
        await first.close()  # the group exists; nobody reads it now
        event = Event(type="payment_created", merchant_id="m", payment_id="p1")
        r = redis.Redis.from_url(url, decode_responses=True)
        r.xadd(stream, {"e": event.model_dump_json()})
        # a process takes it and dies before handling it: it stays unacknowledged
        taken = r.xreadgroup("fresh_features", "dead-process", {stream: ">"}, count=10)
        assert len(taken[0][1]) == 1
        survivor = RedisStreamBus(url, prefix, dlq=_Parked(), claim_idle_s=0.5)
        survivor.subscribe("fresh_features", _recorder(pushes, 1), once=True)
        await survivor.start()
        try:
            await _until(lambda: pushes)
            await asyncio.sleep(0.3)
        finally:
            await survivor.close()
        return event.id, r.xpending(stream, "fresh_features")["pending"]

    event_id, pending = asyncio.run(run())
    assert pushes == [(1, event_id)] and pending == 0
