"""The router service's gateway statistics in Feast: every `every_s` seconds, off the
event loop, push the rows the current router's outcomes changed and refresh the shared
rows its decisions read (`models.router.shared_stats`).

Nothing is lost when Feast fails: rows not written stay marked as changed and the next
sync writes their newest values; the final sync at shutdown pushes what is left. The
rows themselves are part of the router's checkpoint, and a router restored from one
pushes all of its rows once. Until a refresh succeeds (or when the last one is older
than the TTL) decisions read the router's own rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from serving.backends import Periodic

log = logging.getLogger("smartpay.router_stats")


class StatsSync:
    """Pushes and refreshes the current router backend's shared gateway statistics;
    its life is the owning service's (`start` on start-up, `stop` at shutdown)."""

    def __init__(self, current: Callable[[], Any], shared, every_s: float) -> None:
        self._current, self.shared = current, shared
        self._periodic = Periodic(self.sync, every_s, "router-stats", final=True)
        self._failing = False

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    def sync(self) -> bool:
        """Push, then refresh (blocking: Feast I/O). False if either failed (logged
        when it starts failing, not on every retry) or the backend has no VW policy."""
        policy = getattr(self._current(), "policy", None)
        if policy is None or not hasattr(policy, "take_rows"):
            return False
        self.shared.use_names(policy.names)
        policy.router.shared = self.shared  # a reloaded champion reads them too
        try:
            self.shared.push(policy)
            self.shared.refresh(policy.segments())
        except Exception as exc:  # Feast down or not applied: retried at the next sync
            if not self._failing:
                # the type only: a store's error may carry its connection string
                log.warning("router gateway statistics: Feast sync failed (%s); "
                            "decisions read this router's own until it works",
                            type(exc).__name__)
            self._failing = True
            return False
        if self._failing:
            log.info("router gateway statistics: Feast sync works again")
        self._failing = False
        return True


def stats_sync(current: Callable[[], Any], serving) -> StatsSync:
    """The service's `StatsSync` over the profile's Feast store (opened at the first
    sync, in its worker thread), with the intervals from serving settings."""
    from features.store import open_store
    from models.router.shared_stats import SharedStats

    shared = SharedStats(open_store, [], serving.router_stats_ttl_s)
    return StatsSync(current, shared, serving.router_stats_sync_s)
