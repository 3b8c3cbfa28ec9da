"""The payment domain service: /pay, refunds, rewards and status sync, over ports.

It names what it needs (store, fraud, router, gateways, rewards, cache, clock) and
nothing else; `serving.composition` gives it real ones, the unit tests fakes. Every
state change goes to the store together with the events it causes (the outbox), and
every money rule is a conditional update in the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from serving import observability as obs
from serving.events import Event
from serving.ledger.states import FINAL
from serving.payments import decisions as d
from serving.ports import GatewayPort, GatewayResult
from serving.payments.reviews import Reviewing
from serving.payments.rewarding import Rewarding
from serving.ledger.store import new_payment_id
from serving.payments.views import (
    created_event, payment_fields, processed_event, risk_fingerprint, route_request,
    to_view,
)
from serving.schemas import (FraudRequest, FraudResult, OutcomeAck, PayRequest, PaymentView,
                             RouteOutcome, RouteRequest, RouteResult)
from serving.security import ApiError, Principal

log = logging.getLogger("smartpay.payments")


@dataclass
class Policy:
    """The domain's knobs (from `Settings.serving`). The fraud decision itself is the
    model's: each version decides with the thresholds registered with it."""

    consistency_window_s: float = 60.0
    review_hold_s: float = 86_400.0
    review_default: str = "reject"


@dataclass
class PaymentService(Rewarding, Reviewing):
    store: object  # serving.ledger.Ledger (async)
    fraud: object  # FraudPort
    router: object  # RouterPort
    gateways: dict[str, GatewayPort]
    cache: object  # serving.cache.Cache
    rewards: object | None = None  # RewardsPort
    minter: object | None = None  # serving.payments.minter.RewardMinter, when running
    fresh: object | None = None  # serving.fresh_features.FreshFeatures, when pushing
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.time
    _tasks: set = field(default_factory=set, repr=False)

    # -- models ------------------------------------------------------------------
    async def score(self, req: FraudRequest) -> FraudResult:
        """Risk of one transaction, from the cache when seen in the last 30 minutes."""
        key = risk_fingerprint(req, self.clock)
        hit = await self.cache.get("risk", key)
        if hit is not None:
            return FraudResult.model_validate({**hit, "cached": True})
        await self._slide_features(req)
        try:
            result = await self.fraud.score(req)
        except Exception as exc:  # no score, no payment: nothing is written
            obs.MODEL_UP.labels("fraud").set(0)
            log.warning("fraud scorer failed: %s", type(exc).__name__)
            raise ApiError(503, "fraud_scorer_unavailable", "the fraud scorer did not "
                           "answer; nothing was charged, retry with the same "
                           "Idempotency-Key", headers={"Retry-After": "1"}) from None
        obs.MODEL_UP.labels("fraud").set(1)
        obs.FRAUD_SCORE.observe(result.risk_score)
        await self.cache.set("risk", key, result.model_dump(exclude={"cached"}))
        return result

    async def _slide_features(self, req: FraudRequest) -> None:
        """Bring the customer's and terminal's online windows to this instant before
        the model reads them; on failure the payment is scored with the last push."""
        if self.fresh is None:
            return
        try:
            await self.fresh.slide(req.customer_id, req.terminal_id,
                                   req.tx_epoch_s or int(self.clock()))
        except Exception as exc:  # stale features must not stop a payment
            log.warning("fresh features: slide failed: %s", type(exc).__name__)

    def eligible(self, method_type: str, currency: str, channel: str) -> list[str]:
        return [n for n, g in self.gateways.items() if g.accepts(method_type, currency,
                                                                 channel)]

    async def route(self, req: RouteRequest, eligible: list[str]) -> RouteResult:
        """The router's own decision for this one payment: its own decision id and
        propensity, sampled per request (a decision reused across a segment would
        freeze exploration and log a wrong propensity for every reuse)."""
        if not eligible:
            raise ApiError(422, "no_gateway", f"no gateway accepts "
                           f"{req.payment_method_type} payments in {req.currency} "
                           f"({req.channel})")
        try:
            result = await self.router.decide(req, eligible)
        except Exception as exc:  # a router outage must not stop payments
            obs.MODEL_UP.labels("router").set(0)
            log.warning("router failed, using the static order: %s", type(exc).__name__)
            return RouteResult(gateway=eligible[0], probability=1.0, ranking=eligible,
                               decision_id="fallback")
        obs.MODEL_UP.labels("router").set(1)
        return result

    async def route_outcome(self, decision_id: str, outcome: RouteOutcome) -> OutcomeAck:
        """Teach the router the outcome of one of its /route decisions that the
        merchant charged itself (a /pay payment reports its own)."""
        try:
            out = await self.router.feedback(decision_id, outcome.gateway, outcome.success,
                                             outcome.latency_ms, outcome.amount_minor,
                                             outcome.currency)
        except Exception as exc:
            log.warning("router feedback failed: %s", type(exc).__name__)
            raise ApiError(503, "router_unavailable", "the router did not take the "
                           "outcome; send it again", headers={"Retry-After": "1"}) from None
        return OutcomeAck.model_validate(out if isinstance(out, dict) else {"learned": True})

    # -- /pay --------------------------------------------------------------------
    async def pay(self, who: Principal, req: PayRequest, key: str) -> PaymentView:
        """Score, route, charge with failover, record, reward. Runs once per key (the
        caller holds the idempotency claim); a payment already made under this key
        (its claim outlived a crash) is synced and answered instead of charged again."""
        existing = await self.store.payment_by_key(who.merchant_id, key)
        if existing is not None:
            return await self.sync_one(existing)
        fraud = await self.score(FraudRequest(**req.model_dump(
            include=set(FraudRequest.model_fields))))
        fields = payment_fields(who, req, fraud, key)
        fields["id"] = pid = new_payment_id()
        created = [created_event(pid, who.merchant_id, req, self.clock)]
        if fraud.decision == "decline":
            return await self._decline_fraud(who, fields, fraud, created)
        eligible = self.eligible(req.payment_method.type, req.currency, req.channel)
        decision = await self.route(route_request(req, fraud.risk_score, self.clock),
                                    eligible)
        ranking = [decision.gateway] + [g for g in decision.ranking if g != decision.gateway]
        logged = d.logged_decision(decision)
        await self.store.create_payment(first_gateway=ranking[0],
                                        route_decision_id=decision.decision_id,
                                        decision=logged, events=created, **fields)
        await self._charge({**fields, "id": pid}, req, ranking, decision.decision_id,
                           hold=fraud.decision == "review", logged=logged is not None)
        return await self.finish(pid)

    async def _decline_fraud(self, who: Principal, fields: dict, fraud: FraudResult,
                             created: list[Event]):
        reason = d.decline_reason(fraud.risk_score, fraud.model_version,
                                  None if fraud.thresholds is None
                                  else fraud.thresholds.decline)
        pid = await self.store.create_payment(events=created, **fields)
        top = [c.model_dump() for c in fraud.top_features[:3]]
        detected = Event(type="fraud_detected", merchant_id=who.merchant_id,
                         payment_id=pid, data={"risk_score": fraud.risk_score,
                                               "top_features": top})
        p = {**fields, "id": pid, "status": "declined", "gateway": None}
        await self.store.record(pid, "declined", reason, reason=reason,
                                events=[detected, processed_event(p)])
        return await self.view(pid)

    async def _charge(self, p: dict, req: PayRequest, ranking: list[str],
                      decision_id: str, hold: bool = False, logged: bool = False) -> None:
        """Authorize+capture on the first gateway that takes it (authorize only and
        hold when the fraud model asks for review); fail over only on a definite,
        retryable answer. Each attempt is in the store before its call; the routed
        attempt's outcome goes to the decision log with the settled status."""
        pid, last, ref, name, routed = p["id"], None, None, None, None
        for seq, name in enumerate(ranking, start=1):
            ref = f"{pid}-1" if seq == 1 else await self.store.start_attempt(pid, seq, name)
            t0 = time.perf_counter()
            last = await self._authorize_capture(pid, self.gateways[name], ref, req, hold)
            obs.ATTEMPTS.labels(name, last.state).inc()
            if seq == 1:  # learning is off the payment's path
                ms = (time.perf_counter() - t0) * 1000
                self._background(self._feedback(decision_id, name, last, ms, req))
                routed = d.decision_outcome(decision_id, last, ms) if logged else None
            if d.next_step(last) != "failover" or seq == len(ranking):
                break
            await self.store.finish_attempt(ref, last.state, last.gateway_ref,
                                            last.error_class)
        await self._settle(p, last, ref, name, hold, routed)

    async def _authorize_capture(self, pid, gw: GatewayPort, ref: str,
                                 req: PayRequest, hold: bool = False) -> GatewayResult:
        try:
            token, pre_ref = await gw.prepare(ref, req.amount_minor, req.currency,
                                              req.payment_method.type,
                                              req.payment_method.token, not hold)
        except Exception as exc:  # nothing was charged: fail over like a refusal
            return GatewayResult("failed", None, "gateway",
                                 f"{gw.name} prepare: {type(exc).__name__}")
        if pre_ref:  # known before the charge: status sync can find it after a crash
            await self.store.finish_attempt(ref, "pending", gateway_ref=pre_ref)
        auth = await gw.authorize(ref, req.amount_minor, req.currency, token, not hold)
        if auth.state != "authorized":  # keep the reference status sync will ask about
            return auth if auth.gateway_ref or not pre_ref else replace(auth, gateway_ref=pre_ref)
        await self.store.transition(pid, "authorized", f"{gw.name} {auth.gateway_ref}",
                                    gateway=gw.name, gateway_ref=auth.gateway_ref)
        if hold:  # held for review: an operator's verdict captures or voids it
            return auth
        cap = await gw.capture(ref, auth.gateway_ref, req.amount_minor)
        if cap.state == "captured" or d.next_step(cap) == "pending":
            return cap
        await gw.void(ref, auth.gateway_ref)  # release the hold, never leave it
        return GatewayResult("failed", auth.gateway_ref, "gateway",
                             f"capture failed: {cap.message}")

    async def _settle(self, p: dict, last: GatewayResult | None, ref: str | None,
                      gateway: str | None, hold: bool = False,
                      routed: dict | None = None) -> None:
        """Write the last attempt's outcome, the payment's status and its event in one
        transaction: `payment_processed` for a final status, `payment_review` for a
        hold, none for pending. `p` holds the payment's id, merchant, amount,
        currency and risk."""
        status, reason = d.settled_status(last, hold)
        attempt = None if ref is None or last is None else (
            ref, "pending" if status == "pending" else last.state, last.gateway_ref,
            last.error_class)
        fields = {"gateway": gateway}
        if last is not None and last.gateway_ref:
            fields["gateway_ref"] = last.gateway_ref
        if reason:
            fields["reason"] = reason
        events = ([] if status == "pending" else
                  [self.held_event({**p, **fields})] if status == "review" else
                  [processed_event({**p, **fields, "status": status})])
        await self.store.record(p["id"], status, reason or gateway, attempt,
                                events=events, decision_outcome=routed, **fields)

    def _background(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _feedback(self, decision_id, name, result: GatewayResult, latency_ms,
                        req) -> None:
        if decision_id == "fallback":
            return
        try:
            await self.router.feedback(decision_id, name,
                                       result.state in ("captured", "authorized"),
                                       latency_ms, req.amount_minor, req.currency)
        except Exception:  # learning must never fail a payment
            log.warning("router feedback failed for decision %s", decision_id)

    async def finish(self, pid: str) -> PaymentView:
        """Reward a captured payment (queued to the minter when one runs, else here;
        idempotent) and return the view."""
        p = await self.store.get(pid)
        if p["status"] == "captured" and self.rewards is not None and not p["reward"]:
            if self.minter is not None and self.minter.submit(p):
                p["reward"] = {"user_id": p["user_id"], "status": "minting", "signature": None,
                               "amount": self.rewards.units(p["amount_minor"], p["currency"])}
            else:
                p["reward"] = await self.mint_reward(p)
        obs.PAYMENTS.labels(p["status"], p["gateway"] or "none").inc()
        if p["status"] == "captured":
            obs.APPROVALS.labels(p["gateway"]).inc()
        return to_view(p)

    async def view(self, pid: str) -> PaymentView:
        return to_view(await self.store.get(pid))

    # -- status sync ---------------------------------------------------------------
    async def sync_one(self, p: dict) -> PaymentView:
        """Ask the gateway what became of a payment left in flight, settle it, and
        answer its idempotency key; a final payment is only (re)rewarded."""
        if p["status"] in ("capturing", "voiding"):
            await self.sync_verdict(p)
        elif p["status"] in ("created", "authorized", "pending"):
            await self._sync_attempt(p)
        view = await self.finish(p["id"])
        if p["idem_key"] and view.status in FINAL | {"review"}:
            await self.store.finish(p["merchant_id"], p["idem_key"], 200,
                                    view.model_dump(mode="json"))
        return view

    async def _sync_attempt(self, p: dict) -> None:
        attempts = p["attempts"]
        if not attempts:
            await self._settle(p, None, None, None)
            return
        last = attempts[-1]
        gw = self.gateways.get(last["gateway"])
        if gw is None:
            return  # that gateway is not configured here: leave it for one that is
        res = await gw.status(last["reference"], last["gateway_ref"])
        res = d.synced_result(res, self.clock() - _epoch(last.get("at")),
                              self.policy.consistency_window_s)
        hold = p.get("fraud_decision") == "review"
        if res.state == "authorized":
            if p["status"] == "created":
                await self.store.transition(p["id"], "authorized", gateway=gw.name,
                                            gateway_ref=res.gateway_ref)
            if not hold:  # a payment the model sent to review stays held
                res = await gw.capture(last["reference"], res.gateway_ref,
                                       p["amount_minor"])
        if d.settled_status(res, hold)[0] == "pending" and p["status"] == "pending":
            return  # still unknown: nothing to write
        await self._settle(p, res, last["reference"], last["gateway"], hold)

    async def reconcile(self, min_age_s: float = 0.0) -> dict[str, int]:
        """Settle every payment left created/authorized/pending, queue again every
        captured payment whose reward was never written; count the outcomes. Payments
        changed in the last `min_age_s` are left alone: a live request may hold them
        (the periodic sync sets it; at start-up nothing of this process is live)."""
        counts: dict[str, int] = {}
        if self.rewards is not None:
            for p in await self.store.unrewarded(min_age_s):
                if self.minter is None or not self.minter.submit(p):
                    await self.mint_reward(p)
                counts["reward_queued"] = counts.get("reward_queued", 0) + 1
        for p in await self.store.in_limbo(min_age_s):
            try:
                outcome = (await self.sync_one(p)).status
            except Exception as exc:  # one gateway down must not stop the others
                log.warning("status sync of %s failed: %s", p["id"], type(exc).__name__)
                outcome = "error"
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


def _epoch(at) -> float:
    return at.timestamp() if hasattr(at, "timestamp") else float(at or 0)
