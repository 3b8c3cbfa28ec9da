"""Domain events with at-least-once delivery: retries, then a dead-letter queue that can be
inspected and replayed. In-process bus locally; Redis Streams in prod (every API process
reads the stream, so each one's WebSocket clients see every event)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, Field

log = logging.getLogger("smartpay.events")
EVENT_TYPES = ("payment_processed", "reward_minted", "fraud_detected")


class Event(BaseModel):
    """What subscribers receive; `merchant_id` scopes who may see it."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: str
    merchant_id: str
    payment_id: str | None = None
    data: dict[str, Any] = {}
    ts: float = Field(default_factory=time.time)


Handler = Callable[[Event], Awaitable[None]]


class _Delivery:
    """Retry each handler, park what still fails in the DLQ."""

    def __init__(self, retries: int = 3, backoff_s: float = 0.01) -> None:
        self.handlers: dict[str, Handler] = {}
        self.retries, self.backoff_s = retries, backoff_s
        self.delivered = 0

    def subscribe(self, name: str, handler: Handler) -> None:
        self.handlers[name] = handler

    async def _deliver(self, event: Event) -> None:
        for name, handler in list(self.handlers.items()):
            if not await self._try(handler, event):
                await self._park(event, name)
        self.delivered += 1

    async def _try(self, handler: Handler, event: Event) -> bool:
        for attempt in range(self.retries + 1):
            try:
                await handler(event)
                return True
            except Exception as exc:  # a subscriber's bug must not stop the bus
                log.warning("event %s to handler failed (try %d): %s", event.id,
                            attempt + 1, exc)
                await asyncio.sleep(self.backoff_s * 2**attempt)
        return False

    async def replay(self, entry_ids: list[str] | None = None) -> dict[str, int]:
        """Deliver DLQ entries again to the handler that failed; drop the successes."""
        done = failed = 0
        for entry in await self.dlq():
            if entry_ids and entry["entry_id"] not in entry_ids:
                continue
            handler = self.handlers.get(entry["handler"])
            event = Event.model_validate(entry["event"])
            if handler is not None and await self._try(handler, event):
                await self._drop(entry["entry_id"])
                done += 1
            else:
                failed += 1
        return {"replayed": done, "still_failing": failed}

    async def _park(self, event: Event, handler: str) -> None: ...
    async def _drop(self, entry_id: str) -> None: ...
    async def dlq(self) -> list[dict]: ...


class LocalBus(_Delivery):
    """An asyncio queue and one dispatcher task; the DLQ is a list in memory."""

    def __init__(self, retries: int = 3) -> None:
        super().__init__(retries)
        self._queue: asyncio.Queue[Event] | None = None
        self._task: asyncio.Task | None = None
        self._dlq: dict[str, dict] = {}

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def publish(self, event: Event) -> None:
        if self._queue is None:
            await self.start()
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            await self._deliver(event)
            self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every published event went through its handlers."""
        if self._queue is not None:
            await self._queue.join()

    async def _park(self, event: Event, handler: str) -> None:
        entry_id = uuid.uuid4().hex
        self._dlq[entry_id] = {"entry_id": entry_id, "handler": handler,
                               "event": event.model_dump(), "parked_at": time.time()}

    async def _drop(self, entry_id: str) -> None:
        self._dlq.pop(entry_id, None)

    async def dlq(self) -> list[dict]:
        return list(self._dlq.values())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


class RedisStreamBus(_Delivery):
    """Events in the Redis stream `<prefix>:events`, dead letters in `<prefix>:dlq`."""

    def __init__(self, url: str, prefix: str = "smartpay", retries: int = 3) -> None:
        import redis.asyncio as aioredis

        super().__init__(retries)
        self._r = aioredis.from_url(url, decode_responses=True)
        self.stream, self.dlq_stream = f"{prefix}:events", f"{prefix}:dlq"
        self._task: asyncio.Task | None = None
        self._pending = 0

    async def start(self) -> None:
        last = await self._r.xinfo_stream(self.stream) if await self._r.exists(
            self.stream) else None
        self._last_id = last["last-generated-id"] if last else "0-0"
        self._task = asyncio.create_task(self._run())

    async def publish(self, event: Event) -> None:
        self._pending += 1
        await self._r.xadd(self.stream, {"e": event.model_dump_json()},
                           maxlen=100_000, approximate=True)

    async def _run(self) -> None:
        while True:
            batches = await self._r.xread({self.stream: self._last_id}, block=1000,
                                          count=500)
            for _stream, entries in batches or []:
                for entry_id, fields in entries:
                    self._last_id = entry_id
                    await self._deliver(Event.model_validate_json(fields["e"]))
                    self._pending = max(0, self._pending - 1)

    async def drain(self, timeout_s: float = 5.0) -> None:
        end = time.monotonic() + timeout_s
        while self._pending and time.monotonic() < end:
            await asyncio.sleep(0.01)

    async def _park(self, event: Event, handler: str) -> None:
        await self._r.xadd(self.dlq_stream, {"handler": handler, "e": event.model_dump_json(),
                                             "parked_at": str(time.time())})

    async def _drop(self, entry_id: str) -> None:
        await self._r.xdel(self.dlq_stream, entry_id)

    async def dlq(self) -> list[dict]:
        rows = await self._r.xrange(self.dlq_stream)
        return [{"entry_id": i, "handler": f["handler"], "event": json.loads(f["e"]),
                 "parked_at": float(f["parked_at"])} for i, f in rows]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._r.aclose()
