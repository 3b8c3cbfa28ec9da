"""One simulated day driven through a running payment API: `POST /route` for each
payment in time order, the world's outcome for the gateway the server chose, then
`POST /route/{decision_id}/outcome` so the served router learns it, exactly as a
merchant that routes with /route and charges itself would.

The server must run with `SMARTPAY_SERVING__ROUTER_EVENT_TIME=true` (its router's clock
follows each request's `tx_epoch_s`, so gateway statistics windows move with the
simulated day) and route among its own enabled gateways. The offline replay it is
compared with (`compare`) gives the same policy the same eligible sets (each payment's
eligible gateways as the server ranked them) and the same outcome draws: payment i
routed to gateway k succeeds iff u[i, k] < p_success[i, k], whichever side routed it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from models.router.replay import Decisions, payments, replay
from models.router.vw_policy import reward_of
from pipelines.router import nodes

FIELDS = ("amount_minor", "currency", "card_network", "issuing_country",
          "merchant_category", "channel", "hour", "risk_score")


@dataclass
class ApiRun:
    """What the server decided for each payment of the day."""

    decisions: Decisions
    eligible: np.ndarray  # n x K: the gateways the server ranked (its eligible set)
    learned: int  # outcomes the server said it learned
    restarts: int
    versions: set[str]  # the router versions that decided


def payable(ctx: pd.DataFrame, world, draws):
    """The day without the payments the API would refuse (a simulated amount that
    rounds to 0 minor units): the same rows of contexts, world and draws; and how
    many were left out."""
    keep = ctx["amount_minor"].to_numpy() > 0
    fields = {f: getattr(world, f)[keep] for f in world.__dataclass_fields__}
    return (ctx[keep].reset_index(drop=True), replace(world, **fields),
            (draws[0][keep], draws[1][keep]), int((~keep).sum()))


def route_body(row: dict) -> dict:
    body = {k: row[k] for k in FIELDS}
    body["amount_minor"], body["hour"] = int(body["amount_minor"]), int(body["hour"])
    body["risk_score"] = float(body["risk_score"])
    body["payment_method_type"] = "card"
    body["tx_epoch_s"] = int(pd.Timestamp(row["timestamp"]).tz_localize(None).timestamp())
    return body


async def drive(client, headers: dict, ctx: pd.DataFrame, world, cfg, draws,
                restart_at: float | None = None,
                restart: Callable[[], Awaitable[object]] | None = None,
                on_progress: Callable[[int], None] | None = None) -> ApiRun:
    """Route every payment of `ctx` through `client` (an httpx.AsyncClient on the
    server), one at a time in time order, and report each outcome back. With
    `restart_at` (a share of the day), `restart()` is awaited once there; the client
    must still reach the server after it."""
    names = cfg.gateway_names
    n, k = world.p_success.shape
    u = draws[0]
    action, prob = np.empty(n, np.int8), np.empty(n, np.float32)
    success, latency = np.empty(n, bool), np.empty(n, np.float32)
    reward = np.empty(n, np.float32)
    eligible, ranking = np.zeros((n, k), bool), np.full((n, k), -1, np.int8)
    fee_frac = world.fee_minor / np.maximum(ctx["amount_minor"].to_numpy(), 1)[:, None]
    fw, lw = cfg.reward.fee_weight, cfg.reward.latency_weight_per_s
    learned, restarts, versions = 0, 0, set()
    cut = None if restart_at is None else int(n * restart_at)
    rows = ctx[list({*FIELDS, "timestamp"})].to_dict("records")
    for i, row in enumerate(rows):
        if i == cut and restart is not None:
            await restart()
            restarts += 1
        r = await _post(client, "/route", route_body(row), headers)
        versions.add(str(r.get("model_version")))
        a = names.index(r["gateway"])
        order = [names.index(g) for g in r["ranking"]]
        eligible[i, order], ranking[i, :len(order)] = True, order
        ok = bool(u[i, a] < world.p_success[i, a])
        lat = float(world.latency_ms[i, a])
        outcome = {"gateway": r["gateway"], "success": ok, "latency_ms": lat,
                   "amount_minor": int(row["amount_minor"]), "currency": row["currency"]}
        ack = await _post(client, f"/route/{r['decision_id']}/outcome", outcome, headers)
        learned += bool(ack.get("learned"))
        action[i], prob[i], success[i], latency[i] = a, r["probability"], ok, lat
        reward[i] = reward_of(ok, float(fee_frac[i, a]), lat, fw, lw)
        if on_progress is not None and i % 1000 == 999:
            on_progress(i + 1)
    return ApiRun(Decisions("vw-served", action, prob, ranking, success, latency, reward),
                  eligible, learned, restarts, versions)


async def _post(client, path: str, body: dict, headers: dict, tries: int = 20) -> dict:
    """POST with a short retry while a restarting server is not answering yet."""
    import httpx

    for attempt in range(tries):
        try:
            res = await client.post(path, json=body, headers=headers)
        except httpx.TransportError:
            if attempt == tries - 1:
                raise
            await asyncio.sleep(0.5)
            continue
        if res.status_code == 503 and attempt < tries - 1:
            await asyncio.sleep(0.5)
            continue
        res.raise_for_status()
        return res.json()
    raise RuntimeError("unreachable")


def compare(run: ApiRun, ctx: pd.DataFrame, world, cfg, draws, seed: int = 7) -> dict:
    """The served day against the offline replay of the same (fresh VW) policy on the
    same eligible sets and outcome draws: realised and expected auth rates, and the
    static rule and oracle on those sets for scale."""
    same = replace(world, eligible=run.eligible)
    offline = replay(nodes.make_policy("vw", cfg, seed), payments(ctx, same, ctx["shared"]
                     .to_numpy()), same, cfg, draws)
    static = nodes.run_policy("static_rule", ctx, same, cfg, draws, seed)
    rows = np.arange(len(ctx))
    served_p = world.p_success[rows, run.decisions.action]
    offline_p = world.p_success[rows, offline.action]
    # the sd of the realised difference of two policies' auth rates over this day
    diff = run.decisions.success.astype(float) - offline.success.astype(float)
    return {
        "payments": len(ctx),
        "served_auth_rate": round(float(run.decisions.success.mean()), 5),
        "offline_auth_rate": round(float(offline.success.mean()), 5),
        "served_expected_auth_rate": round(float(served_p.mean()), 5),
        "offline_expected_auth_rate": round(float(offline_p.mean()), 5),
        "difference_pp": round(float(diff.mean()) * 100, 3),
        "difference_se_pp": round(float(diff.std(ddof=1) / np.sqrt(len(diff))) * 100, 3),
        "static_rule_auth_rate": nodes.policy_metrics(static, same)["auth_rate"],
        "oracle_auth_rate": round(float(nodes.oracle_success(same).mean()), 5),
        "learned": run.learned, "restarts": run.restarts,
    }


def served_log(run: ApiRun, ctx: pd.DataFrame, world, cfg) -> pd.DataFrame:
    """The day's served decisions as a decision log (the schema `train router` reads),
    with the gateway statistics each decision saw rebuilt from the served outcomes in
    order (what the served router's own windows held) and the world's true success
    probabilities (`p_true__g`) for OPE checks."""
    from models.router.replay import _observe
    from models.router.stats import FEATURES, WindowStats

    same = replace(world, eligible=run.eligible)
    pays = payments(ctx, same, ctx["shared"].to_numpy())
    dec = run.decisions
    tracker = WindowStats(len(cfg.gateway_names))
    feats = np.empty((len(pays), len(cfg.gateway_names), len(FEATURES)), np.float32)
    for i, p in enumerate(pays):
        feats[i] = _observe(tracker, p)
        tracker.record(int(dec.action[i]), tracker.segment_id(p.segment),
                       bool(dec.success[i]), float(dec.latency_ms[i]))
    log = nodes.decision_log(ctx, replace(dec, features=feats), same, cfg)
    for k, g in enumerate(cfg.gateway_names):
        log[f"p_true__{g}"] = world.p_success[:, k]
    return log


def served_ope(log: pd.DataFrame, cfg, seed: int = 1, train_share: float = 2 / 3) -> dict:
    """OPE on the held-out (newest) part of a served log: a VW challenger trained on
    the earlier part and the baseline policies (warmed up on the earlier part too),
    each with its DR / clipped DR / IPS / SNIPS estimate and its simulated truth on the
    same contexts, and each |estimate - truth| in pp for DR and clipped DR. The served
    policy explores at a 0.2 % floor, so a target that differs from it is seen on its
    own choice about once per 500 decisions, with a weight up to 500: plain DR swings
    by pp on one such outcome; clipped DR leans on the reward model there instead."""
    train_log, held = nodes.split_by_time(log, train_share)
    p_true = held[[f"p_true__{g}" for g in cfg.gateway_names]].to_numpy()
    q_hat = nodes.fit_reward_model(train_log, len(cfg.gateway_names)).predict(held)
    targets = {"vw_challenger": nodes.target_pmf(nodes.train_offline(train_log, cfg), held,
                                                 cfg),
               **nodes.baseline_pmfs(log, cfg, seed, start=len(train_log))}
    out = {name: nodes.ope_estimates(held, pmf, q_hat, p_true) for name, pmf in targets.items()}
    return {"policies": out, "held_out": len(held), "dr_error_pp": _errors(out, "dr"),
            "dr_clipped_error_pp": _errors(out, "dr_clipped")}


def _errors(estimates: dict, key: str) -> dict:
    return {name: round(abs(e[key] - e["truth"]) * 100, 3) for name, e in estimates.items()}
