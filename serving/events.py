"""Domain events, delivered at least once and handled once per process.

A state change and its events commit together (the ledger's outbox); `OutboxRelay`
publishes them to a bus; the bus hands each event to each subscriber, retrying, then
parks what still fails in the ledger's dead-letter table, from where it is requeued.
Since an event may arrive twice (a relay crashed between publishing and marking, a
requeue), each process remembers which subscriber already had which event id.
In-process bus locally; Redis Streams in prod (every API process reads the stream, so
each one's WebSocket clients see every event). A handler subscribed with `once=True`
(work that changes shared state, such as pushing fresh features) is run by one process
of the deployment per event instead: a Redis consumer group named after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger("smartpay.events")
EVENT_TYPES = ("payment_processed", "payment_review", "reward_minted", "fraud_detected")


class Event(BaseModel):
    """What subscribers receive; `merchant_id` scopes who may see it."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: str
    merchant_id: str
    payment_id: str | None = None
    data: dict[str, Any] = {}
    ts: float = Field(default_factory=time.time)


Handler = Callable[[Event], Awaitable[None]]


class DeadLetterStore(Protocol):
    """Where the bus parks what its handlers failed (`serving.ledger.DeadLetters`)."""

    async def park(self, event: Event, handler: str, error: str) -> str: ...
    async def list(self) -> list[dict]: ...
    async def requeue(self, entry_ids: Sequence[str] | None = None) -> int: ...
    async def drop(self, entry_id: str) -> bool: ...


class Deduper:
    """The `size` most recent keys seen; checking and remembering one is O(1)."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._order: deque[Hashable] = deque()
        self._seen: set[Hashable] = set()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._seen

    def add(self, key: Hashable) -> bool:
        """Remember a key; False when it was remembered already (a duplicate)."""
        if key in self._seen:
            return False
        if len(self._order) >= self.size:
            self._seen.discard(self._order.popleft())
        self._order.append(key)
        self._seen.add(key)
        return True


class _Delivery:
    """Hand each event id to each handler once, retrying; park what still fails."""

    def __init__(self, dlq: DeadLetterStore, retries: int = 3, backoff_s: float = 0.01,
                 remember: int = 100_000) -> None:
        if not all(hasattr(dlq, m) for m in ("park", "list", "requeue", "drop")):
            raise TypeError("dlq: expected a dead-letter store such as "
                            f"`ledger.dead_letters`, got {type(dlq).__name__}")
        self.handlers: dict[str, Handler] = {}
        self.dead_letters = dlq
        self.retries, self.backoff_s = retries, backoff_s
        self._handled = Deduper(remember)  # (handler, event id) pairs that succeeded
        self.delivered = 0

    def subscribe(self, name: str, handler: Handler, *, once: bool = False) -> None:
        """Hand every event to `handler`. `once`: in one process of the deployment
        only (here, a single process, the same thing)."""
        self.handlers[name] = handler

    async def _deliver(self, event: Event) -> None:
        await self._deliver_to(event, self.handlers)
        self.delivered += 1

    async def _deliver_to(self, event: Event, handlers: dict[str, Handler]) -> None:
        for name, handler in list(handlers.items()):
            if (name, event.id) in self._handled:
                continue
            error = await self._try(handler, event)
            if error is None:
                self._handled.add((name, event.id))
            else:
                await self._park(event, name, error)

    async def _try(self, handler: Handler, event: Event) -> str | None:
        """None once the handler succeeded, else its last error."""
        error = None
        for attempt in range(self.retries + 1):
            try:
                await handler(event)
                return None
            except Exception as exc:  # noqa: BLE001 - a handler's bug must not stop us
                error = f"{type(exc).__name__}: {exc}"
                log.warning("event %s to handler failed (try %d): %s", event.id,
                            attempt + 1, error)
                await asyncio.sleep(self.backoff_s * 2**attempt)
        return error

    async def _park(self, event: Event, handler: str, error: str) -> None:
        try:
            await self.dead_letters.park(event, handler, error)
        except Exception as exc:  # noqa: BLE001 - ledger down too: the log keeps it
            log.error("could not park event %s for %s (%s): %s", event.id, handler, exc,
                      event.model_dump_json())

    async def dlq(self) -> list[dict]:
        """The parked entries, oldest first."""
        return await self.dead_letters.list()

    async def replay(self, entry_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Requeue parked events (all when no ids) into the outbox; the relay
        publishes them again and only the handlers that failed them run again."""
        return {"replayed": await self.dead_letters.requeue(entry_ids)}


class LocalBus(_Delivery):
    """An asyncio queue and one dispatcher task, for a single process."""

    def __init__(self, retries: int = 3, *, dlq: DeadLetterStore) -> None:
        super().__init__(dlq, retries)
        self._queue: asyncio.Queue[Event] | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="local-bus")

    async def publish(self, event: Event) -> None:
        if self._queue is None:
            await self.start()
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._deliver(event)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every published event went through its handlers."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


class RedisStreamBus(_Delivery):
    """Events in the Redis stream `<prefix>:events`; every process reads all of it,
    and the `once` handlers read it through a consumer group each, so that one
    process handles each event. An event a process took but did not acknowledge (it
    died) is claimed by another after `claim_idle_s`."""

    def __init__(self, url: str, prefix: str = "smartpay", retries: int = 3, *,
                 dlq: DeadLetterStore, claim_idle_s: float = 30.0) -> None:
        import redis.asyncio as aioredis

        super().__init__(dlq, retries)
        self._r = aioredis.from_url(url, decode_responses=True)
        self.stream = f"{prefix}:events"
        self._task: asyncio.Task | None = None
        self._groups: dict[str, Handler] = {}
        self._group_tasks: list[asyncio.Task] = []
        self.consumer = uuid.uuid4().hex
        self.claim_idle_s = claim_idle_s
        self._pending = 0

    def subscribe(self, name: str, handler: Handler, *, once: bool = False) -> None:
        if once:
            self._groups[name] = handler
        else:
            super().subscribe(name, handler)

    async def start(self) -> None:
        last = await self._r.xinfo_stream(self.stream) if await self._r.exists(
            self.stream) else None
        self._last_id = last["last-generated-id"] if last else "0-0"
        self._task = asyncio.create_task(self._run(), name="redis-bus")
        for name, handler in self._groups.items():
            await self._join(name)
            self._group_tasks.append(asyncio.create_task(
                self._run_group(name, handler), name=f"redis-bus-{name}"))

    async def _join(self, group: str) -> None:
        """Create the handler's consumer group at the stream's end, unless it exists
        (then it carries on from where the deployment's processes left it)."""
        from redis.exceptions import ResponseError

        with contextlib.suppress(ResponseError):  # BUSYGROUP: another process made it
            await self._r.xgroup_create(self.stream, group, id=self._last_id,
                                        mkstream=True)

    async def _run_group(self, group: str, handler: Handler) -> None:
        """This process's share of the group's events, then the acknowledgement;
        every `claim_idle_s` also the entries a dead process left unacknowledged."""
        handlers, next_claim = {group: handler}, 0.0
        while True:
            entries = []
            if time.monotonic() >= next_claim:
                next_claim = time.monotonic() + self.claim_idle_s / 2
                claimed = await self._r.xautoclaim(
                    self.stream, group, self.consumer, int(self.claim_idle_s * 1000),
                    "0-0", count=500)
                entries += claimed[1]
            got = await self._r.xreadgroup(group, self.consumer, {self.stream: ">"},
                                           count=500, block=1000)
            for _stream, fresh in got or []:
                entries += fresh
            for entry_id, fields in entries:
                if fields:  # an entry trimmed from the stream meanwhile comes empty
                    await self._deliver_to(Event.model_validate_json(fields["e"]),
                                           handlers)
                await self._r.xack(self.stream, group, entry_id)

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

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._group_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._group_tasks = []
        await self._r.aclose()


class OutboxRelay:
    """Publishes the ledger's outbox in id order: at once when this process commits
    events (the ledger calls `wake`), and every `poll_s` for events committed by other
    processes or left unpublished by a crash (once the dead relay's claim on them has
    expired). At-least-once: a row is marked only after `publish` returned, so a relay
    stopped in between sends it again next time."""

    def __init__(self, ledger: Any, publish: Callable[[Event], Awaitable[None]],
                 poll_s: float = 0.5, batch: int = 200) -> None:
        self.ledger, self.publish = ledger, publish
        self.poll_s, self.batch = poll_s, batch
        self._task: asyncio.Task | None = None
        self._wakeup: asyncio.Event | None = None

    def start(self) -> None:
        """Run the relay as a task of the current loop (and hook it to the ledger)."""
        if self._task is None:
            self._wakeup = asyncio.Event()
            self.ledger.on_events = self.wake
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        """Publish now rather than at the next poll."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def stop(self) -> None:
        """Cancel the relay; a batch it was publishing is sent again by the next one."""
        if self.ledger.on_events == self.wake:
            self.ledger.on_events = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def drain(self, timeout_s: float = 5.0) -> bool:
        """Wait until the outbox is empty; False if events still wait at the end."""
        end = time.monotonic() + timeout_s
        while await self.ledger.outbox.unpublished():
            if time.monotonic() > end:
                return False
            self.wake()
            await asyncio.sleep(0.01)
        return True

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()  # before reading: a commit from now on wakes us again
            if await self._relay_batch() < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_s)

    async def _relay_batch(self) -> int:
        try:
            return await self.ledger.outbox.relay_batch(self._publish, self.batch)
        except Exception as exc:  # noqa: BLE001 - database away: retry at next poll
            log.warning("outbox relay: %s", exc)
            return 0

    async def _publish(self, payload: dict) -> None:
        try:
            event = Event.model_validate(payload)
        except ValidationError as exc:  # an unreadable row must not block the rest
            log.error("outbox: dropping unreadable event %s: %s", payload.get("id"),
                      exc)
            return
        await self.publish(event)
