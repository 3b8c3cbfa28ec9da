"""Client-side coalescing: concurrent calls to a batchable dependency share one request.

Every call to a model service costs a round trip through two HTTP stacks, which on a
small machine costs more than scoring a row. `Coalescer` queues the items submitted
while earlier batches are in flight and sends them together as one list call; with
no load a call goes out on the next loop turn (no added wait), under load batches
form by themselves, so the batch size adapts to the traffic. This is where the fraud
scorer's batches are made (BentoML's own batcher is off, see `serving.services`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """`await submit(item)` -> that item's result from a `call(list_of_items)`."""

    def __init__(self, call: Callable[[list[T]], Awaitable[Sequence[R]]],
                 max_batch: int = 64, max_inflight: int = 1,
                 linger_s: float = 0.0) -> None:
        self._call, self.max_batch, self.max_inflight = call, max_batch, max_inflight
        self.linger_s = linger_s  # how long the first item may wait for company
        self._last_sent = float("-inf")
        self._queue: list[tuple[T, asyncio.Future, float]] = []
        self._inflight = 0
        self._scheduled = False

    async def submit(self, item: T) -> R:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((item, fut, time.monotonic()))
        self._kick()
        return await fut

    def _kick(self) -> None:
        # call_soon gathers everything submitted during this loop turn into one batch;
        # under sustained traffic (a call went out within the last 10 lingers) a lone
        # item waits up to the linger for others: fewer, fuller calls. A quiet
        # service sends at once, so the linger never slows a lone request.
        if self._queue and not self._scheduled and self._inflight < self.max_inflight:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            now = time.monotonic()
            busy = now - self._last_sent < 10 * self.linger_s
            wait = self.linger_s - (now - self._queue[0][2]) if busy else 0.0
            if wait > 0 and len(self._queue) < self.max_batch:
                loop.call_later(wait, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
        if not batch:
            return
        self._inflight += 1
        self._last_sent = time.monotonic()
        asyncio.ensure_future(self._send(batch))
        self._kick()

    async def _send(self, batch: list[tuple[T, asyncio.Future, float]]) -> None:
        try:
            results = await self._call([item for item, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batched call answered {len(results)} results "
                                   f"for {len(batch)} items")
            for (_, fut, _), result in zip(batch, results):
                _settle(fut, result=result)
        except BaseException as exc:  # every waiter learns the failure, none hangs
            for _, fut, _ in batch:
                _settle(fut, error=exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._inflight -= 1
            self._kick()


def _settle(fut: asyncio.Future, result: Any = None,
            error: BaseException | None = None) -> None:
    if fut.done():  # the waiter was cancelled (client went away)
        return
    if isinstance(error, asyncio.CancelledError):
        fut.cancel()
    elif error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)
