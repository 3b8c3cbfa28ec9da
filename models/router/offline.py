"""Decision logs <-> VW examples: train a router offline from logged decisions and
ask any trained router for its action probabilities on logged contexts.

A decision log row holds the payment's VW shared line, which gateways were
eligible, the gateway_stats features every gateway had at decision time, the chosen
gateway, its propensity and the reward, so a logged decision can be replayed into VW
exactly as it was seen online.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.router.config import RouterOptions
from models.router.stats import FEATURES
from models.router.vw_policy import VWRouter, _predict, action_lines


def eligible_matrix(log: pd.DataFrame, names: list[str]) -> np.ndarray:
    """n x K eligibility from the log's `elig__<gateway>` columns."""
    return log[[f"elig__{g}" for g in names]].to_numpy(dtype=bool)


def feature_tensor(log: pd.DataFrame, names: list[str]) -> np.ndarray:
    """n x K x 4 gateway_stats features from the log's `<gateway>__<feature>` columns."""
    cols = [f"{g}__{f}" for g in names for f in FEATURES]
    return log[cols].to_numpy(dtype=float).reshape(len(log), len(names), len(FEATURES))


def fee_matrix(log: pd.DataFrame, names: list[str]) -> np.ndarray:
    """n x K fees as a share of the amount, from the log's `fee__<gateway>` columns."""
    return log[[f"fee__{g}" for g in names]].to_numpy(dtype=float)


def examples(log: pd.DataFrame, names: list[str]) -> list[tuple[list[str], np.ndarray]]:
    """Unlabelled multi-line VW examples (and eligible action indices) per logged row."""
    elig, feats, fee = eligible_matrix(log, names), feature_tensor(log, names), fee_matrix(log, names)
    out = []
    for i, shared in enumerate(log["shared"].tolist()):
        idx = np.flatnonzero(elig[i])
        out.append(([shared, *action_lines(names, idx, fee[i], feats[i])], idx))
    return out


def train(log: pd.DataFrame, names: list[str], opts: RouterOptions, passes: int = 1) -> VWRouter:
    """A VW router trained on logged decisions (cb_type from `opts`: ips, dr or mtr)."""
    router = VWRouter(names, opts)
    exs = examples(log, names)
    action = log["action_idx"].to_numpy()
    prob, reward = log["propensity"].to_numpy(), log["reward"].to_numpy()
    for _ in range(passes):
        for (lines, idx), a, p, r in zip(exs, action, prob, reward):
            router.learn_example(lines, idx, int(a), float(p), float(r))
    return router


def target_pmf(router: VWRouter, log: pd.DataFrame, names: list[str]) -> np.ndarray:
    """n x K probabilities the router (with its exploration floor) gives logged contexts."""
    floor = router.opts.exploration.min_probability
    out = np.zeros((len(log), len(names)))
    for i, (lines, idx) in enumerate(examples(log, names)):
        probs = np.asarray(_predict(router.vw, lines), dtype=float)
        out[i, idx] = (1.0 - floor * len(idx)) * probs / probs.sum() + floor
    return out
