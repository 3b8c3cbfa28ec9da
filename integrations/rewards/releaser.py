"""Scheduled release: a task of the owner's event loop that releases due rewards.

    releaser = RewardReleaser(service, every_s=60)
    releaser.start()          # in the app's start-up, inside its running loop
    ...
    await releaser.stop()     # in its shutdown

Each round settles entries left pending by a crash or timeout, then releases every
reward whose refund window has passed. A failing round is logged and the next one
runs on schedule: a chain outage delays releases, it never stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from integrations.rewards.service import RewardRecord, RewardService

log = logging.getLogger(__name__)


class RewardReleaser:
    """Runs `settle_pending` and `release_due` every `every_s` seconds until stopped."""

    def __init__(self, service: RewardService, every_s: float) -> None:
        if every_s <= 0:
            raise ValueError(f"every_s must be positive seconds, got {every_s!r}")
        self.service, self.every_s = service, every_s
        self.rounds = self.failures = 0
        self._task: asyncio.Task | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        """True between start() and the end of stop()."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the schedule on the running loop; the first round runs at once."""
        if self.running:
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="reward-releaser")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let a round in progress finish (up to `grace_s`), then end the task."""
        if self._task is None or self._stopping is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except asyncio.TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def run_once(self) -> list[RewardRecord]:
        """One round: settle what is pending, release what is due; [] when it failed."""
        self.rounds += 1
        try:
            await self.service.settle_pending()
            return await self.service.release_due()
        except Exception:  # noqa: BLE001 - a failed round must not end the schedule
            self.failures += 1
            log.exception("reward release round %d failed; retrying in %.0f s", self.rounds, self.every_s)
            return []

    async def _loop(self) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            released = await self.run_once()
            if released:
                log.info("released %d rewards", len(released))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every_s)
