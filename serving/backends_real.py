"""The production backends: `fraud-detector@champion` and `gateway-router@champion`.

Thin adapters over `models/`: everything model-specific (features from Feast, the
booster, the bandit) lives there; this only translates rows and decisions.
"""

from __future__ import annotations

import uuid

import numpy as np
from cachetools import TTLCache

from smartpay.errors import SmartPayError


class ModelUnavailable(SmartPayError):
    """A champion the service needs is not in the registry."""


def champion_fraud():
    """The fraud backend over models.fraud's champion loader."""
    try:
        from models.fraud.serve import load_champion  # provided by the fraud model
    except ImportError as exc:
        raise ModelUnavailable(
            "fraud-detector@champion cannot be loaded: models.fraud.serve is not "
            f"available ({exc}); train and register the fraud model first") from None
    return load_champion()


def champion_router():
    """The router backend over models.router's champion (or a fresh default policy)."""
    try:
        from models.router.serve import load_champion  # provided by the router model
    except ImportError:
        return ThompsonBackend()
    return load_champion()


class ThompsonBackend:
    """A fresh default router: the router package's Thompson sampling policy, learning
    online from each outcome (used until a `gateway-router@champion` exists)."""

    version = "fresh-thompson"

    def __init__(self, names: list[str] | None = None, seed: int = 0) -> None:
        from models.router.policies import Thompson

        self.names = names or ["stripe", "amazon_pay", "solana"]
        self.rng = np.random.default_rng(seed)
        self.policy = Thompson(len(self.names), 0.999, self.rng)
        self._pending: TTLCache = TTLCache(200_000, 3600)

    def decide(self, ctx: dict, eligible: list[str]) -> tuple[str, float, list[str], str]:
        from models.router.policies import Payment

        mask = np.array([n in eligible for n in self.names])
        segment = f"{ctx['currency']}:{ctx['card_network']}:{ctx['channel']}"
        p = Payment(0, segment, mask, np.zeros(len(self.names)))
        pmf = self.policy.pmf(p)
        action = int(self.rng.choice(len(pmf), p=pmf / pmf.sum()))
        ranked = [self.names[i] for i in np.argsort(-pmf) if mask[i] and i != action]
        decision_id = uuid.uuid4().hex
        self._pending[decision_id] = p
        return self.names[action], float(pmf[action]), [self.names[action], *ranked], decision_id

    def learn(self, decision_id: str, outcome: dict) -> None:
        p = self._pending.get(decision_id)  # a cached decision is reused: keep it
        if p is None or outcome["gateway"] not in self.names:
            return
        action = self.names.index(outcome["gateway"])
        self.policy.update(p, action, bool(outcome["success"]), float(outcome["latency_ms"]),
                           float(outcome["success"]))
