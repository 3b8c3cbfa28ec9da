"""Model backends behind the BentoML services, and hot reload when `@champion` moves.

A backend is a small object with `version` and one call (`predict` for fraud,
`decide`/`learn` for the router). Which factory builds it is configuration
(`SMARTPAY_SERVING_FRAUD_BACKEND=module:function`), so tests and the demo can point the
same services at a freshly trained tiny model.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any, Callable, Protocol

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
    """Holds the current backend; a daemon thread swaps in a new champion when the
    registry alias points at another version (no restart, no dropped request)."""

    def __init__(self, load: Callable[[], Any], probe: Callable[[], str] | None,
                 every_s: float) -> None:
        self._load, self._probe, self.every_s = load, probe, every_s
        self.current = load()
        self._stop = threading.Event()
        if probe is not None and every_s > 0:
            threading.Thread(target=self._watch, daemon=True, name="reload").start()

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self.check()

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

    def stop(self) -> None:
        self._stop.set()
