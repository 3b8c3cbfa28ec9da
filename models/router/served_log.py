"""Served routing decisions (the ledger's `route_decisions`) as a decision log in the
schema `train router` reads (`pipelines.router.nodes.decision_log`): the same columns
for the VW example (shared line, `elig__g`, `fee__g`, `g__<stat>`), the action taken,
its propensity, the outcome and the reward, plus the context the OPE reward model
uses. A served decision replays into VW exactly as it was seen online.

Documented columns (one row per decision with a known outcome, oldest first):
transaction_id (the payment id), timestamp (UTC), segment, shared, card_network,
issuing_country, currency, amount_minor, merchant_category, channel, hour, hour_band,
cross_border, risk_score, log_amount, policy (the policy version that decided),
action_idx and gateway (the routed gateway), propensity, success, latency_ms, reward
(the configured reward: success less fee and latency weights), outcome (the gateway's
state), ranking (eligible gateways by probability, `>`-joined), then per gateway g
`elig__g`, `fee__g` (fee as a share of the amount), `p__g` (the policy's probability)
and `g__sr_15m`, `g__sr_1h`, `g__sr_24h`, `g__latency_1h_s` (gateway_stats then).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from models.router.config import WorldConfig
from models.router.stats import FEATURES
from models.router.vw_policy import reward_of
from smartpay.errors import InputError

CONTEXT = ["card_network", "issuing_country", "currency", "amount_minor",
           "merchant_category", "channel", "hour", "hour_band", "cross_border",
           "risk_score"]


def decision_log(rows: Iterable[dict], cfg: WorldConfig) -> pd.DataFrame:
    """The decision-log frame of served decisions (`Ledger.decisions()` rows)."""
    names = cfg.gateway_names
    out = [_row(r, names, cfg) for r in rows]
    if not out:
        raise InputError("decisions", 0, "at least one served decision with a known "
                         "outcome in the chosen window")
    log = pd.DataFrame(out)
    log["timestamp"] = pd.to_datetime(log["timestamp"], utc=True)
    return log.sort_values(["timestamp", "transaction_id"], kind="stable").reset_index(
        drop=True)


def _row(r: dict, names: list[str], cfg: WorldConfig) -> dict:
    rec = r["record"]
    where = {g: i for i, g in enumerate(rec["names"])}
    missing = [g for g in names if g not in where]
    if missing or len(rec["names"]) != len(names):
        raise InputError("router config", rec["names"],
                         f"the gateways the decision was made over; this config has {names}")
    order = [where[g] for g in names]  # the record's columns in this config's order
    elig = np.asarray(rec["eligible"], dtype=bool)[order]
    fee = np.asarray(rec["fee_frac"], dtype=float)[order]
    stats = np.asarray(rec["stats"], dtype=float)[order]
    pmf = np.asarray(rec["pmf"], dtype=float)[order]
    action = names.index(r["gateway"])
    ctx = rec.get("context", {})
    success = bool(r["success"])
    row = {"transaction_id": r["payment_id"], "timestamp": r["created_at"],
           "segment": rec["segment"], "shared": rec["shared"],
           **{k: ctx.get(k) for k in CONTEXT},
           "log_amount": float(np.log10(max(float(ctx.get("amount_usd", 0.0)), 0.5))),
           "policy": r.get("policy_version") or "", "action_idx": action,
           "gateway": r["gateway"], "propensity": float(r["propensity"]),
           "success": success, "latency_ms": float(r["latency_ms"] or 0.0),
           "reward": reward_of(success, fee[action], float(r["latency_ms"] or 0.0),
                               cfg.reward.fee_weight, cfg.reward.latency_weight_per_s),
           "outcome": r.get("outcome") or "",
           "ranking": ">".join(names[i] for i in np.argsort(-pmf, kind="stable")
                               if elig[i])}
    for k, g in enumerate(names):
        row[f"elig__{g}"], row[f"fee__{g}"], row[f"p__{g}"] = bool(elig[k]), fee[k], pmf[k]
        for j, f in enumerate(FEATURES):
            row[f"{g}__{f}"] = stats[k, j]
    return row
