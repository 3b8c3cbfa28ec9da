"""The /pay sequence: fraud (cached) -> decline or route (cached) -> authorize+capture with
failover -> ledger -> reward in escrow -> events -> answer, with router feedback."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time

from serving import observability as obs
from serving.events import Event
from serving.ports import GatewayResult
from serving.runtime import Runtime
from serving.schemas import (
    FraudRequest, FraudResult, PayRequest, PaymentView, RouteRequest, RouteResult,
)
from serving.security import ApiError, Principal

log = logging.getLogger("smartpay.flow")


def risk_fingerprint(r: FraudRequest) -> str:
    """Same customer, terminal, card, amount and hour -> same cached risk."""
    hour = (r.tx_epoch_s or int(time.time())) // 3600
    raw = f"{r.customer_id}|{r.terminal_id}|{r.card_id}|{r.amount_minor}|{r.currency}|{hour}"
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def route_segment(r: RouteRequest, eligible: list[str]) -> str:
    """Payments alike in method, money, card, category, channel and risk band."""
    band = len(str(r.amount_minor))
    hours = "night" if (r.hour or 12) < 6 else "evening" if (r.hour or 12) >= 18 else "day"
    return "|".join([r.payment_method_type, r.currency, r.card_network, r.issuing_country,
                     r.merchant_category, r.channel, str(band), hours,
                     f"{min(int(r.risk_score * 10), 9)}", ",".join(sorted(eligible))])


async def score(rt: Runtime, req: FraudRequest) -> FraudResult:
    """Risk of one transaction, from the cache when seen in the last 30 minutes."""
    key = risk_fingerprint(req)
    hit = await rt.cache.get("risk", key)
    if hit is not None:
        return FraudResult.model_validate({**hit, "cached": True})
    with obs.tracer.start_as_current_span("fraud.score"):
        try:
            result = await rt.fraud.score(req)
        except Exception as exc:  # no score, no payment: nothing is written
            obs.MODEL_UP.labels("fraud").set(0)
            log.warning("fraud scorer failed: %s", exc)
            raise ApiError(503, "fraud_scorer_unavailable", "the fraud scorer did not "
                           "answer; nothing was charged, retry with the same "
                           "Idempotency-Key", headers={"Retry-After": "1"}) from None
    obs.MODEL_UP.labels("fraud").set(1)
    obs.FRAUD_SCORE.observe(result.risk_score)
    await rt.cache.set("risk", key, result.model_dump(exclude={"cached"}))
    return result


def eligible_gateways(rt: Runtime, method_type: str, currency: str, channel: str) -> list[str]:
    return [n for n, g in rt.gateways.items() if g.accepts(method_type, currency, channel)]


async def route(rt: Runtime, req: RouteRequest, eligible: list[str]) -> RouteResult:
    """The router's choice for this segment, cached 15 minutes."""
    if not eligible:
        raise ApiError(422, "no_gateway", f"no gateway accepts {req.payment_method_type} "
                       f"payments in {req.currency} ({req.channel})")
    key = route_segment(req, eligible)
    hit = await rt.cache.get("route", key)
    if hit is not None:
        return RouteResult.model_validate({**hit, "cached": True})
    with obs.tracer.start_as_current_span("router.decide"):
        try:
            result = await rt.router.decide(req, eligible)
        except Exception as exc:  # a router outage must not stop payments
            obs.MODEL_UP.labels("router").set(0)
            log.warning("router failed, using the static order: %s", exc)
            return RouteResult(gateway=eligible[0], probability=1.0, ranking=eligible,
                               decision_id="fallback")
    obs.MODEL_UP.labels("router").set(1)
    await rt.cache.set("route", key, result.model_dump(exclude={"cached"}))
    return result


def _route_request(req: PayRequest, risk: float) -> RouteRequest:
    hour = (req.tx_epoch_s or int(time.time())) // 3600 % 24
    return RouteRequest(amount_minor=req.amount_minor, currency=req.currency,
                        payment_method_type=req.payment_method.type, risk_score=risk,
                        hour=hour,
                        **req.model_dump(include={"card_network", "issuing_country",
                                                  "merchant_category", "channel",
                                                  "device_id"}))


def _payment_fields(who: Principal, req: PayRequest, fraud: FraudResult, key: str) -> dict:
    return dict(merchant_id=who.merchant_id, amount_minor=req.amount_minor,
                currency=req.currency, method_type=req.payment_method.type,
                method_token=req.payment_method.token,
                user_id=req.user_id or f"customer-{req.customer_id}",
                risk_score=fraud.risk_score, fraud_decision=fraud.decision, idem_key=key)


async def pay(rt: Runtime, who: Principal, req: PayRequest, idem_key: str) -> PaymentView:
    """Run the whole /pay sequence once (idempotency is handled by the caller)."""
    fraud = await score(rt, FraudRequest(**req.model_dump(include=set(FraudRequest.model_fields))))
    fields = _payment_fields(who, req, fraud, idem_key)
    if fraud.decision == "decline" or fraud.risk_score >= rt.config.fraud_decline_threshold:
        return await _decline_fraud(rt, who, rt.ledger.create_payment(**fields), fraud)
    eligible = eligible_gateways(rt, req.payment_method.type, req.currency, req.channel)
    decision = await route(rt, _route_request(req, fraud.risk_score), eligible)
    ranking = [decision.gateway] + [g for g in decision.ranking if g != decision.gateway]
    pid = rt.ledger.create_payment(first_gateway=ranking[0],
                                   route_decision_id=decision.decision_id, **fields)
    await charge(rt, pid, req, ranking, decision.decision_id)
    return await finish(rt, pid)


async def _decline_fraud(rt: Runtime, who: Principal, pid: str, fraud: FraudResult):
    reason = (f"fraud risk {fraud.risk_score:.3f} >= threshold "
              f"{rt.config.fraud_decline_threshold}")
    rt.ledger.transition(pid, "declined", detail=reason, reason=reason)
    top = [c.model_dump() for c in fraud.top_features[:3]]
    await rt.bus.publish(Event(type="fraud_detected", merchant_id=who.merchant_id,
                               payment_id=pid, data={"risk_score": fraud.risk_score,
                                                     "top_features": top}))
    return await finish(rt, pid)


async def charge(rt: Runtime, pid: str, req: PayRequest, ranking: list[str],
                 decision_id: str) -> None:
    """Authorize+capture on the first gateway that takes it; fail over when retryable.
    Each attempt is in the ledger before its call (the first one with the payment)."""
    last, ref, name = None, None, None
    for seq, name in enumerate(ranking, start=1):
        gw = rt.gateways[name]  # an open breaker answers breaker_open, sending nothing
        ref = f"{pid}-1" if seq == 1 else rt.ledger.start_attempt(pid, seq, name)
        t0 = time.perf_counter()
        with obs.tracer.start_as_current_span("gateway.charge", attributes={"gateway": name}):
            last = await _authorize_capture(rt, pid, gw, ref, req)
        obs.ATTEMPTS.labels(name, last.state).inc()
        if seq == 1:  # learning is off the payment's path: it never delays the answer
            _in_background(_feedback(rt, decision_id, name, last,
                                     (time.perf_counter() - t0) * 1000, req))
        if last.state == "captured" or not last.retryable:
            break
        if seq < len(ranking):
            rt.ledger.finish_attempt(ref, last.state, last.gateway_ref, last.error_class)
    _settle(rt, pid, last, ref, name)


async def _authorize_capture(rt, pid, gw, ref, req) -> GatewayResult:
    try:
        token, pre_ref = await gw.prepare(ref, req.amount_minor, req.currency,
                                          req.payment_method.type, req.payment_method.token)
    except Exception as exc:  # nothing was charged: fail over like a gateway error
        return GatewayResult("failed", None, "gateway", f"{gw.name} prepare: {exc}")
    if pre_ref:  # known before the charge: lets status sync find it after a crash
        rt.ledger.finish_attempt(ref, "pending", gateway_ref=pre_ref)
    auth = await gw.authorize(ref, req.amount_minor, req.currency, token)
    if auth.state != "authorized":
        return auth
    rt.ledger.transition(pid, "authorized", detail=f"{gw.name} {auth.gateway_ref}",
                         gateway=gw.name, gateway_ref=auth.gateway_ref)
    cap = await gw.capture(ref, auth.gateway_ref, req.amount_minor)
    if cap.state != "captured":  # release the hold rather than leave it dangling
        await gw.void(ref, auth.gateway_ref)
        return GatewayResult("failed", auth.gateway_ref, cap.error_class or "gateway",
                             f"capture failed: {cap.message}")
    return cap


def _settle(rt: Runtime, pid: str, last: GatewayResult | None, ref: str | None,
            gateway: str | None) -> None:
    """Write the last attempt's outcome and the payment's final status together."""
    attempt = None if ref is None or last is None else (
        ref, last.state, last.gateway_ref, last.error_class)
    if last is not None and last.state == "captured":
        rt.ledger.record(pid, "captured", gateway, attempt, gateway=gateway,
                         gateway_ref=last.gateway_ref)
        return
    status = "declined" if last is not None and last.error_class == "hard" else "failed"
    reason = (last.message if last is not None else "no gateway was tried")[:250]
    rt.ledger.record(pid, status, reason, attempt, reason=reason, gateway=gateway)


_BACKGROUND: set[asyncio.Task] = set()  # strong references until each task is done


def _in_background(coro) -> None:
    task = asyncio.ensure_future(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def _feedback(rt, decision_id, name, result: GatewayResult, latency_ms: float,
                    req) -> None:
    if decision_id == "fallback":
        return
    try:
        await rt.router.feedback(decision_id, name, result.state == "captured",
                                 latency_ms, req.amount_minor, req.currency)
    except Exception:  # learning must never fail a payment
        log.exception("router feedback failed for decision %s", decision_id)


async def finish(rt: Runtime, pid: str) -> PaymentView:
    """Reward a captured payment, publish `payment_processed`, return the view."""
    p = rt.ledger.get(pid)
    if p["status"] == "captured" and rt.rewards is not None and not p["reward"]:
        p["reward"] = await mint_reward(rt, p)
    obs.PAYMENTS.labels(p["status"], p["gateway"] or "none").inc()
    if p["status"] == "captured":
        obs.APPROVALS.labels(p["gateway"]).inc()
    view = to_view(p)
    await rt.bus.publish(Event(type="payment_processed", merchant_id=p["merchant_id"],
                               payment_id=pid, data=view.model_dump(
                                   include={"status", "amount_minor", "currency",
                                            "gateway", "risk_score"})))
    return view


async def mint_reward(rt: Runtime, p: dict) -> dict:
    """Mint the payment's reward into escrow (idempotent per payment) and announce it.
    A chain failure leaves the payment captured; POST /reward retries the mint."""
    user = f"{p['merchant_id']}:{p['user_id']}"
    try:
        with obs.tracer.start_as_current_span("rewards.mint"):
            minted = await rt.rewards.mint(p["id"], user, p["amount_minor"], p["currency"])
    except Exception as exc:
        log.warning("reward mint for %s failed: %s", p["id"], exc)
        return {"user_id": p["user_id"], "amount": 0, "status": "failed"}
    reward = {"user_id": p["user_id"], "amount": minted["units"],
              "status": minted["status"], "signature": minted.get("signature")}
    rt.ledger.update_fields(p["id"], reward=reward)
    await rt.cache.delete("balance", user)
    if minted["status"] == "escrowed":
        obs.REWARDS.inc()
        await rt.bus.publish(Event(type="reward_minted", merchant_id=p["merchant_id"],
                                   payment_id=p["id"], data=reward))
    return reward


def to_view(p: dict) -> PaymentView:
    return PaymentView(
        payment_id=p["id"], merchant_id=p["merchant_id"], status=p["status"],
        amount_minor=p["amount_minor"], currency=p["currency"],
        refunded_minor=p["refunded_minor"], gateway=p["gateway"],
        risk_score=p["risk_score"], fraud_decision=p["fraud_decision"],
        attempts=[{k: a[k] for k in ("gateway", "error_class", "gateway_ref")}
                  | {"outcome": a["outcome"]} for a in p["attempts"]],
        reward=p["reward"], history=p["history"], reason=p["reason"])
