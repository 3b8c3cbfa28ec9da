"""Rewards minted beside the payment path, in batches.

`/pay` answers once the charge is recorded, with its reward `minting`. The minter takes
whatever has queued up while the previous batch was on the chain (at most
`max_batch`), mints it in one transaction and writes each payment's reward with its
`reward_minted` event. Under load that is one chain round trip per batch instead of
two per payment; when idle, a payment's reward follows it by one round trip.

Nothing here is the record: a payment whose reward was queued when the process died
(or whose batch failed) has no reward in the ledger, and status sync queues it again.
The reward book mints each payment once however often it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Awaitable, Callable

log = logging.getLogger("smartpay.rewards.minter")

MintBatch = Callable[[list[dict]], Awaitable[None]]


class RewardMinter:
    """A queue of captured payments and the one task of the owner's loop that mints
    their rewards. `start` inside the running loop, `stop` on shutdown."""

    def __init__(self, mint_batch: MintBatch, max_batch: int, capacity: int = 10_000) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch!r}")
        self._mint_batch, self.max_batch = mint_batch, max_batch
        self._queue: asyncio.Queue[dict] = asyncio.Queue(capacity)
        self._queued: set[str] = set()
        self._task: asyncio.Task | None = None
        self.batches = self.minted = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def submit(self, payment: dict) -> bool:
        """Queue a captured payment's reward; False when not running or full (the
        caller mints it itself, or leaves it to status sync)."""
        if not self.running:
            return False
        if payment["id"] in self._queued:
            return True
        try:
            self._queue.put_nowait(payment)
        except asyncio.QueueFull:
            return False
        self._queued.add(payment["id"])
        return True

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._loop(),
                                                                name="reward-minter")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let the queue drain (up to `grace_s`), then end the task; what is left is
        picked up by the next process's status sync."""
        if self._task is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._drained(), grace_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _drained(self) -> None:
        while self._queued:
            await asyncio.sleep(0.01)

    async def _loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._mint_batch(batch)
                self.batches += 1
                self.minted += len(batch)
            except Exception:  # noqa: BLE001 - status sync queues them again
                log.exception("minting a batch of %d rewards failed", len(batch))
            finally:
                for p in batch:
                    self._queued.discard(p["id"])
