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


class Periodic:
    """Runs a blocking `action` off the event loop every `every_s` seconds once
    started; `stop()` cancels it, waits for it and, with `final=True`, runs the action
    once more (a last checkpoint at shutdown). Its life is the owning service's."""

    def __init__(self, action: Callable[[], Any], every_s: float, name: str,
                 final: bool = False) -> None:
        self.action, self.every_s, self.name, self.final = action, every_s, name, final
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Schedule on the running loop (no-op with `every_s <= 0` or when started)."""
        if self.every_s <= 0 or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it to end (then the final run, if asked)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self.final:
            await asyncio.to_thread(self.action)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            await asyncio.to_thread(self.action)


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
        # The probe and the load block on the registry: off the loop.
        self._watch = Periodic(self.check, every_s if probe is not None else 0,
                               "champion-reload")

    def start(self) -> None:
        """Check every `every_s` seconds on the running loop (no-op without a probe,
        with `every_s <= 0` or when already started)."""
        self._watch.start()

    async def stop(self) -> None:
        """Cancel the periodic check and wait for the task to end."""
        await self._watch.stop()

    @property
    def running(self) -> bool:
        return self._watch.running

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


class Checkpointing:
    """Saves the online-learned state of the current router backend every `every_s`
    seconds and once more at shutdown (backends without `save_checkpoint` are left
    alone), so a restart loses at most one interval of learning."""

    def __init__(self, current: Callable[[], Any], every_s: float) -> None:
        self._current = current
        self._periodic = Periodic(self.save, every_s, "router-checkpoint", final=True)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    def save(self) -> bool:
        """Checkpoint now; False when there was nothing new or the store failed (the
        next interval tries again)."""
        backend = self._current()
        save = getattr(backend, "save_checkpoint", None)
        if save is None:
            return False
        try:
            return bool(save())
        except Exception:  # the registry may be down; learning goes on in memory
            log.exception("router checkpoint of %s failed", getattr(backend, "version", "?"))
            return False
