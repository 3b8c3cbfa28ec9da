"""Tiny registered models for registry, deployment and tracking-server tests: an XGBoost
fraud detector on three random features and a fresh VW router, each trained in well
under a second and logged through the product's own registries."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["amount", "tx_count_1d", "terminal_risk_7d"]
ELIGIBLE = ["stripe", "acquirer_na"]
ROUTER_ROW = dict(card_network="visa", issuing_country="US", currency="USD",
                  amount_minor=1_250, merchant_category="grocery", channel="ecommerce",
                  hour=9)


def fraud_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Rows of the three features with a label that depends on them."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"amount": rng.gamma(2.0, 40.0, n),
                       "tx_count_1d": rng.integers(0, 12, n).astype(float),
                       "terminal_risk_7d": rng.uniform(0, 1, n)})
    logit = 0.02 * df["amount"] + 0.2 * df["tx_count_1d"] + 3 * df["terminal_risk_7d"] - 5
    df["is_fraud"] = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def fraud_predictor(seed: int = 0):
    """A FraudPredictor fitted on `fraud_frame` (20 rounds, depth 3)."""
    from models.fraud.estimators import fit_xgb
    from models.fraud.predictor import FraudPredictor
    from models.fraud.thresholds import Thresholds

    df = fraud_frame(seed=seed)
    booster = fit_xgb(df[FEATURES].to_numpy(np.float32), df["is_fraud"].to_numpy(),
                      {"n_estimators": 20, "max_depth": 3}, FEATURES, seed=seed, n_jobs=1)
    return FraudPredictor(booster, FEATURES, Thresholds(
        review=0.5, decline=0.8, review_fp_rate=0.01, decline_fp_rate=0.001,
        review_recall=0.5, decline_recall=0.3))


def register_fraud(reg, seed: int = 0, alias: str | None = "champion") -> str:
    """Log and register a tiny fraud detector; point `alias` at it; its version."""
    predictor = fraud_predictor(seed)
    with reg.run("tiny") as run_id:
        model_id = reg.log_predictor(run_id, predictor, fraud_frame(20, seed + 1), {})
    version = reg.register(model_id, tags={"gate.promote": "true"})
    if alias:
        reg.set_alias(alias, version)
    return version


def register_router(reg, alias: str | None = "champion") -> str:
    """Log and register a fresh router on the default world; point `alias` at it."""
    from models.router.config import load_config
    from models.router.policy import RouterPolicy

    cfg = load_config()
    version = reg.log_and_register(RouterPolicy(cfg).checkpoint(), cfg,
                                   {"cb_type": "mtr"}, {"dr": 0.9})
    if alias:
        reg.set_alias(alias, version)
    return version
