"""The gateway outcome simulator: true success probabilities, fees, latency, declines.

Everything is vectorised over payments x gateways. Success log-odds = base + context
effects + amount and risk slopes + cross-border penalty + slow drift; outage windows
multiply the probability down for a gateway, globally or for one segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.router.config import WorldConfig

HOURS_PER_DAY = 24.0


@dataclass
class World:
    """True per-payment, per-gateway quantities for one replay (arrays n x K)."""

    p_success: np.ndarray
    eligible: np.ndarray
    fee_minor: np.ndarray
    fee_usd: np.ndarray
    latency_ms: np.ndarray
    outage: np.ndarray
    decline_code: np.ndarray


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def hours_since_start(ts: pd.Series) -> np.ndarray:
    """Hours from midnight of the first payment's day (outages are placed on this clock)."""
    t0 = ts.min().normalize()
    return ((ts - t0).dt.total_seconds() / 3600.0).to_numpy()


def success_logits(ctx: pd.DataFrame, cfg: WorldConfig, hours: np.ndarray) -> np.ndarray:
    """Log-odds of authorisation for every payment x gateway, before outages."""
    n = len(ctx)
    out = np.empty((n, len(cfg.gateways)))
    lamt = np.log10(np.maximum(ctx["amount_usd"].to_numpy(), 0.5) / 50.0)
    risk = ctx["risk_score"].to_numpy()
    xb = ctx["cross_border"].to_numpy().astype(float)
    for k, g in enumerate(cfg.gateways.values()):
        z = np.full(n, _logit(g.base_auth))
        for dim, table in g.effects.items():
            z += ctx[dim].map(table).fillna(0.0).to_numpy()
        z += g.amount_slope * lamt + g.risk_slope * risk + g.cross_border * xb
        d = g.drift
        z += d.amplitude_logit * np.sin(2 * np.pi * hours / (d.period_days * HOURS_PER_DAY) + d.phase)
        out[:, k] = z
    return out


def eligibility(ctx: pd.DataFrame, cfg: WorldConfig) -> np.ndarray:
    """Which gateways can take each payment (n x K booleans)."""
    out = np.ones((len(ctx), len(cfg.gateways)), dtype=bool)
    for k, g in enumerate(cfg.gateways.values()):
        e = g.eligible
        if e.channels is not None:
            out[:, k] &= ctx["channel"].isin(e.channels).to_numpy()
        if e.currencies is not None:
            out[:, k] &= ctx["currency"].isin(e.currencies).to_numpy()
        if e.max_amount_minor is not None:
            out[:, k] &= ctx["amount_minor"].to_numpy() <= e.max_amount_minor
    return out


def outage_effects(ctx: pd.DataFrame, cfg: WorldConfig, hours: np.ndarray):
    """Success multipliers, latency multipliers and outage codes (n x K each)."""
    n, names = len(ctx), cfg.gateway_names
    mult, lat = np.ones((n, len(names))), np.ones((n, len(names)))
    code = np.full((n, len(names)), "", dtype=object)
    for o in cfg.outages:
        k = names.index(o.gateway)
        hit = (hours >= o.start_hour) & (hours < o.start_hour + o.duration_minutes / 60.0)
        for dim, value in o.segment.items():
            hit &= ctx[dim].to_numpy() == value
        mult[hit, k] *= o.success_multiplier
        lat[hit, k] *= o.latency_multiplier
        code[hit, k] = o.decline_code
    return mult, lat, code


def fees(ctx: pd.DataFrame, cfg: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """Fee of each gateway for each payment: minor units of its currency, and USD."""
    amount = ctx["amount_minor"].to_numpy()[:, None].astype(float)
    pct = np.array([g.fee.percent for g in cfg.gateways.values()])[None, :]
    fixed = np.array([g.fee.fixed_minor for g in cfg.gateways.values()])[None, :]
    minor = np.rint(amount * pct / 100.0 + fixed).astype(np.int64)
    fx = ctx["currency"].map(cfg.fx_to_usd).fillna(1.0).to_numpy()[:, None]
    return minor, minor / 100.0 * fx


def build_world(ctx: pd.DataFrame, cfg: WorldConfig, rng: np.random.Generator) -> World:
    """All true quantities for a replay over derived contexts `ctx`."""
    hours = hours_since_start(ctx["timestamp"])
    p = 1.0 / (1.0 + np.exp(-success_logits(ctx, cfg, hours)))
    mult, lat_mult, outage_code = outage_effects(ctx, cfg, hours)
    med = np.array([g.latency.median_ms for g in cfg.gateways.values()])[None, :]
    sig = np.array([g.latency.sigma for g in cfg.gateways.values()])[None, :]
    latency = med * np.exp(sig * rng.standard_normal(p.shape)) * lat_mult
    fee_minor, fee_usd = fees(ctx, cfg)
    return World(p * mult, eligibility(ctx, cfg), fee_minor, fee_usd, latency,
                 mult < 1.0, _decline_codes(cfg, outage_code, rng))


def _decline_codes(cfg: WorldConfig, outage_code: np.ndarray, rng) -> np.ndarray:
    """The response code a decline would carry: the outage's, else drawn by weight."""
    codes = np.array([c.code for c in cfg.decline_codes], dtype=object)
    w = np.array([c.weight for c in cfg.decline_codes])
    drawn = codes[rng.choice(len(codes), size=outage_code.shape, p=w / w.sum())]
    return np.where(outage_code != "", outage_code, drawn)
