"""Synthetic payment contexts and a small replay on the test world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.router.config import WorldConfig, load_config
from models.router.context import derive, shared_features
from models.router.replay import common_randoms, payments, replay
from models.router.world import World, build_world

TEST_CONFIG = Path(__file__).parent / "world_test.yaml"


def small_config() -> WorldConfig:
    return load_config(TEST_CONFIG)


def synthetic_contexts(n_minutes: int, per_minute: int, seed: int = 0) -> pd.DataFrame:
    """`per_minute` payments every minute from midnight, US/DE, both channels."""
    rng = np.random.default_rng(seed)
    n = n_minutes * per_minute
    minute = np.repeat(np.arange(n_minutes), per_minute)
    country = rng.choice(["US", "DE"], n)
    return pd.DataFrame({
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(minute * 60 + rng.integers(0, 60, n), "s"),
        "card_network": rng.choice(["visa", "mastercard"], n),
        "issuing_country": country,
        "currency": np.where(country == "US", "USD", "EUR"),
        "amount_minor": rng.integers(500, 20_000, n),
        "merchant_category": "grocery",
        "channel": rng.choice(["ecommerce", "card_present"], n),
        "hour": (minute // 60) % 24,
        "risk_score": rng.uniform(0, 0.2, n),
    }).sort_values("timestamp", kind="stable").reset_index(drop=True)


def world_for(ctx: pd.DataFrame, cfg: WorldConfig, seed: int = 0) -> tuple[pd.DataFrame, World]:
    d = derive(ctx, cfg)
    d["shared"] = shared_features(d)
    return d, build_world(d, cfg, np.random.default_rng(seed))


def run(policy, ctx: pd.DataFrame, world: World, cfg: WorldConfig, seed: int = 1):
    pays = payments(ctx, world, ctx["shared"].to_numpy())
    return replay(policy, pays, world, cfg, common_randoms(len(ctx), len(cfg.gateways), seed))
