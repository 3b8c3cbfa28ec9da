"""The bundle of collaborators one API process uses; built by `serving.wiring`."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from serving.cache import Cache
from serving.config import ServingConfig
from serving.idempotency import Idempotency
from serving.ledger import Ledger
from serving.ports import AssistantPort, FraudPort, GatewayPort, RewardsPort, RouterPort
from serving.security import RateLimiter, Verifier


@dataclass
class Runtime:
    """Everything the routes need; swapping a field swaps an implementation."""

    config: ServingConfig
    ledger: Ledger
    cache: Cache
    bus: object  # LocalBus | RedisStreamBus
    verifier: Verifier
    limiter: RateLimiter
    fraud: FraudPort
    router: RouterPort
    gateways: dict[str, GatewayPort]
    rewards: RewardsPort | None = None
    assistant: AssistantPort | None = None
    closers: list = field(default_factory=list)
    idem: Idempotency = field(init=False)

    def __post_init__(self) -> None:
        self.idem = Idempotency(self.ledger, self.config.idempotency_wait_s)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            res = close()
            if hasattr(res, "__await__"):
                await res
        await self.bus.close()
        await self.cache.close()
        self.ledger.close()


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
