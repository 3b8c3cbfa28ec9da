"""Model backends behind the BentoML services, and hot reload when `@champion` moves.

A backend is a small object with `version` and one call (`predict` for fraud,
`decide`/`learn` for the router). Which factory builds it is configuration
(`SMARTPAY_SERVING__FRAUD_BACKEND=module:function`), so tests and the demo can point the
same services at a freshly trained tiny model.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("smartpay.backends")


class FraudBackend(Protocol):
    version: str

    def predict(self, rows: list[dict]) -> list[dict]: ...


class RouterBackend(Protocol):
    version: str

    def decide(self, context: dict, eligible: list[str]) -> tuple[str, float, list[str], str]: ...
    def learn(self, decision_id: str, outcome: dict) -> None: ...


def load_factory(spec: str) -> Callable[[], Any]:
    """`package.module:function` -> the function."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


class Reloading:
    """Holds the current backend and, once started, swaps in a new champion when the
    registry alias points at another version (no restart, no dropped request).

    Constructing it loads the backend and starts nothing: `start()` schedules the
    periodic check as a task of the running loop and `stop()` cancels it, so its life
    is the owning service's (BentoML start-up and shutdown hooks)."""

    def __init__(self, load: Callable[[], Any], probe: Callable[[], str | None] | None,
                 every_s: float) -> None:
        self._load, self._probe, self.every_s = load, probe, every_s
        self.current = load()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Check every `every_s` seconds on the running loop (no-op without a probe,
        with `every_s <= 0` or when already started)."""
        if self._probe is None or self.every_s <= 0 or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._watch(),
                                                            name="champion-reload")

    async def stop(self) -> None:
        """Cancel the periodic check and wait for the task to end."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            # The probe and the load block on the registry: off the loop.
            await asyncio.to_thread(self.check)

    def check(self) -> bool:
        """Reload if the alias moved; True when a new version was loaded."""
        try:
            wanted = self._probe()
            if wanted and wanted != getattr(self.current, "version", None):
                self.current = self._load()
                log.info("loaded new champion version %s", wanted)
                return True
        except Exception:  # keep serving the old model if the registry is unreachable
            log.exception("champion check failed; keeping version %s",
                          getattr(self.current, "version", "?"))
        return False
