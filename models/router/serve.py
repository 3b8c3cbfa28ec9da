"""The router as serving uses it: `load_champion()` gives an object with
`decide(ctx, eligible) -> (gateway, probability, ranking, decision_id)` and
`learn(decision_id, outcome)`, over `gateway-router@champion` or a fresh VW policy.
"""

from __future__ import annotations

from collections.abc import Mapping

from models.router.policy import RouterPolicy


class ChampionRouter:
    """Adapter from serving's dict contexts/outcomes to `RouterPolicy`."""

    def __init__(self, policy: RouterPolicy, version: str) -> None:
        self.policy, self.version = policy, version
        self.names = policy.names

    def decide(self, ctx: Mapping, eligible: list[str]) -> tuple[str, float, list[str], str]:
        """Chosen gateway, its propensity, every eligible gateway ranked, decision id."""
        d = self.decide_logged(ctx, eligible)
        return d.gateway, d.probability, d.ranking, d.decision_id

    def decide_logged(self, ctx: Mapping, eligible: list[str]):
        """The whole `Decision`, with the record the decision log keeps (the policy
        version included)."""
        d = self.policy.decide(dict(ctx), list(eligible))
        d.record["policy_version"] = self.version
        return d

    def learn(self, decision_id: str, outcome: Mapping) -> None:
        """Feed back {'success': bool, 'latency_ms': float, ...} for a decision."""
        self.policy.learn(decision_id, {"success": bool(outcome["success"]),
                                        "latency_ms": float(outcome.get("latency_ms", 0.0))})


def load_champion(tracking_uri: str | None = None, alias: str = "champion"
                  ) -> ChampionRouter:
    """`gateway-router@<alias>` from MLflow, or a fresh default policy if none exists."""
    from models.router.registry import MODEL_NAME, registry_for

    registry = registry_for(tracking_uri)
    version = registry.version_for_alias(alias)
    policy = registry.load_policy(alias if version else None)
    return ChampionRouter(policy, f"{MODEL_NAME}/{version}" if version else "fresh-vw")
