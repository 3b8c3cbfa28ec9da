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


class FeastFraudBackend:
    """`fraud-detector@champion` fed by the Feast FeatureService `fraud_model_v1`:
    online features by customer/terminal/card plus the request's amount and time."""

    def __init__(self, predictor, store, service: str = "fraud_model_v1") -> None:
        self.predictor, self.store = predictor, store
        self.version = str(predictor.version)
        self.service = store.get_feature_service(service)

    def predict(self, rows: list[dict]) -> list[dict]:
        keys = ("customer_id", "terminal_id", "card_id", "amount_minor", "tx_epoch_s")
        entity_rows = [{k: int(r[k]) for k in keys} for r in rows]
        df = self.store.get_online_features(features=self.service,
                                            entity_rows=entity_rows).to_df()
        return [{"risk_score": min(max(score, 0.0), 1.0), "decision": decision,
                 "top_features": [{"feature": f, "contribution": c} for f, c in top]}
                for score, decision, top in self.predictor.predict(df)]


def champion_fraud() -> FeastFraudBackend:
    """The fraud backend: the registry's champion and the profile's Feast store."""
    from features.store import open_store
    from models.fraud.registry import RegistryError, load_predictor

    try:
        predictor = load_predictor("champion")
    except RegistryError as exc:
        raise ModelUnavailable(str(exc)) from None
    return FeastFraudBackend(predictor, open_store())


def _fraud_champion_version() -> str | None:
    from models.fraud.registry import connect, version_for_alias

    return version_for_alias(connect(), "champion")


champion_fraud.probe = _fraud_champion_version  # type: ignore[attr-defined]


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
