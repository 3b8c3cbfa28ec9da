"""The router as serving uses it: `load_champion()` gives an object with
`decide(ctx, eligible) -> (gateway, probability, ranking, decision_id)` and
`learn(decision_id, outcome)`, over `gateway-router@champion` or a fresh VW policy,
carrying on from that version's newest online checkpoint when there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from models.router.checkpoints import CheckpointStore
from models.router.policy import RouterPolicy

log = logging.getLogger("smartpay.router")


class ChampionRouter:
    """Adapter from serving's dict contexts/outcomes to `RouterPolicy`."""

    def __init__(self, policy: RouterPolicy, version: str,
                 checkpoints: CheckpointStore | None = None) -> None:
        self.policy, self.version = policy, version
        self.names = policy.names
        self.checkpoints = checkpoints
        self.saved_step = policy.learned

    @property
    def learned(self) -> int:
        """Outcomes learned by this version, across restarts."""
        return self.policy.learned

    def decide(self, ctx: Mapping, eligible: list[str]) -> tuple[str, float, list[str], str]:
        """Chosen gateway, its propensity, every eligible gateway ranked, decision id."""
        d = self.decide_logged(ctx, eligible)
        return d.gateway, d.probability, d.ranking, d.decision_id

    def decide_logged(self, ctx: Mapping, eligible: list[str], now_s: float | None = None):
        """The whole `Decision`, with the record the decision log keeps (the policy
        version included); `now_s` is the clock (default wall time)."""
        d = self.policy.decide(dict(ctx), list(eligible), now_s)
        d.record["policy_version"] = self.version
        return d

    def learn(self, decision_id: str, outcome: Mapping) -> None:
        """Feed back {'success': bool, 'latency_ms': float, ...} for a decision."""
        self.policy.learn(decision_id, {"success": bool(outcome["success"]),
                                        "latency_ms": float(outcome.get("latency_ms", 0.0))})

    def save_checkpoint(self) -> bool:
        """Store the online-learned state if it learned anything since the last save
        (blocking: MLflow I/O; serving calls it off the event loop). True if saved."""
        if self.checkpoints is None or self.policy.learned == self.saved_step:
            return False
        blob, step = self.policy.snapshot(), self.policy.learned
        self.checkpoints.save(self.version, blob, step)
        self.saved_step = step
        return True


def load_version(registry, version: str | None) -> ChampionRouter:
    """`gateway-router` version `version` (a fresh default policy for None), carrying
    on from that version's newest online checkpoint; it checkpoints to the same store."""
    from models.router.registry import MODEL_NAME, policy_from_artifacts

    if version is None:
        policy, name = registry.load_policy(None), "fresh-vw"
    else:
        folder = registry.model_folder(version) / "artifacts" / "router"
        policy, name = policy_from_artifacts(folder), f"{MODEL_NAME}/{version}"
    store = CheckpointStore(registry)
    found = store.latest(name)
    if found is not None:
        step, blob = found
        policy = RouterPolicy.from_snapshot(policy.cfg, blob)
        log.info("router %s carries on from its checkpoint at %d outcomes", name, step)
    return ChampionRouter(policy, name, store)


def load_champion(tracking_uri: str | None = None, alias: str = "champion"
                  ) -> ChampionRouter:
    """`gateway-router@<alias>` from MLflow, or a fresh default policy if none exists,
    restored from its newest online checkpoint."""
    from models.router.registry import registry_for

    registry = registry_for(tracking_uri)
    return load_version(registry, registry.version_for_alias(alias))
