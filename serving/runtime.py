"""What one API process runs: its payment service, the edges the HTTP layer needs
(auth, limits, cache, bus) and the background jobs tied to its lifecycle. Built by
`serving.composition.build_runtime`; `start` and `aclose` bracket the process's life,
and every job started in `start` is stopped in `aclose`."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass, field
from typing import Any

from serving.idempotency import Idempotency
from serving.payments.reconcile import settle
from serving.payments.service import PaymentService
from serving.ratelimit import RateLimiter
from serving.security import Verifier
from smartpay.settings import Settings

log = logging.getLogger("smartpay.runtime")


@dataclass
class Runtime:
    settings: Settings
    payments: PaymentService
    store: Any  # serving.ledger.Ledger
    cache: Any
    bus: Any  # LocalBus | RedisStreamBus
    relay: Any  # OutboxRelay
    verifier: Verifier
    limiter: RateLimiter
    assistant: Any = None
    releaser: Any = None  # integrations.rewards.RewardReleaser
    closers: list = field(default_factory=list)
    idem: Idempotency = field(init=False)
    _sync_task: asyncio.Task | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.settings.serving
        self.idem = Idempotency(self.store, s.idempotency_wait_s, s.idempotency_lease_s)

    @property
    def gateways(self) -> dict:
        return self.payments.gateways

    @property
    def rewards(self):
        return self.payments.rewards

    async def start(self) -> None:
        """Bus and outbox relay first (so status sync's events flow), then one status
        sync before serving, then the periodic sync and the reward release job. The reward
        minter starts with the bus: status sync queues the rewards a crash left unwritten."""
        await self.bus.start()
        self.relay.start()
        if self.payments.minter is not None:
            self.payments.minter.start()
        report = await settle(self.payments)
        if report.payments or report.refunds or report.keys:
            log.info("status sync at start-up: payments %s, refunds %s, keys %s",
                     report.payments, report.refunds, report.keys)
        every = self.settings.serving.reconcile_every_s
        if every > 0:
            self._sync_task = asyncio.create_task(self._sync_every(every))
        if self.releaser is not None:
            self.releaser.start()
        await self._warm_assistant()

    async def _warm_assistant(self) -> None:
        """Load the assistant before serving when its saved index exists (a failure is
        logged: the first /chat tries again and answers 503 with the reason)."""
        warm = getattr(self.assistant, "warm", None)  # test fakes may have none
        if warm is None or not self.settings.serving.assistant_warm_start:
            return
        try:
            if await warm():
                log.info("assistant loaded at start-up")
        except Exception:
            log.exception("assistant warm start failed")

    async def _sync_every(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await settle(self.payments,
                             payment_min_age_s=self.settings.serving.sync_min_age_s)
            except Exception:  # the next round tries again
                log.exception("periodic status sync failed")

    async def aclose(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.gather(self._sync_task, return_exceptions=True)
        if self.releaser is not None:
            await self.releaser.stop()
        if self.payments.minter is not None:
            await self.payments.minter.stop()
        await self.relay.stop()
        for close in reversed(self.closers):
            await close()
        await self.bus.close()
        await self.cache.close()
        await self.store.close()


def freeze_startup_heap() -> None:
    """Move everything loaded at start-up (models, Feast, MLflow, SQLAlchemy: millions
    of objects) out of the garbage collector's view. Otherwise each full collection
    walks them all and stalls the event loop for tens of milliseconds, which is the
    p99 of a service answering in one or two. Full collections are also made rarer
    (every 100 middle ones instead of 10): what a request allocates dies young, and
    what lives on (connections, caches) is kept out of the collector's way."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)
