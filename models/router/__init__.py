"""Gateway router: a simulated gateway world, baseline policies, a Vowpal Wabbit
contextual bandit, off-policy evaluation and the MLflow registry hooks.

Serving loads a policy with `load_policy("champion")` (or `default_policy()` for a
fresh one) and calls `decide(context, eligible_gateways)` / `learn(decision_id, outcome)`.
Heavy modules (VW, MLflow) load on first use, not on import of this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.router.policy import RouterPolicy


def default_policy(config_path: str | None = None) -> "RouterPolicy":
    """A fresh, untrained VW policy for the default (or given) world config."""
    from models.router.config import load_config
    from models.router.policy import RouterPolicy

    return RouterPolicy(load_config(config_path))


def load_policy(alias: str | None = "champion", tracking_uri: str | None = None) -> "RouterPolicy":
    """The registered `gateway-router` at `alias`, or a fresh default policy if unset."""
    from models.router.registry import registry_for

    return registry_for(tracking_uri).load_policy(alias)
