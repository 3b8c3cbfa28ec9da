"""The review path: a payment the fraud model sends to review is authorized and held
until an operator's verdict, or the review deadline's default, captures or voids it.

A verdict first claims the payment (review -> capturing or voiding, a status change
the store checks under the row lock, so of two verdicts, or a verdict and the
deadline, exactly one wins), then calls the gateway. Only a definite answer ends the
payment; an unknown one leaves it capturing or voiding, in flight, and status sync
asks the gateway again (`sync_verdict`).
"""

from __future__ import annotations

import logging

from serving.events import Event
from serving.ledger.states import IllegalTransition
from serving.payments import decisions as d
from serving.payments.views import processed_event, to_view
from serving.ports import GatewayResult
from serving.schemas import PaymentView
from serving.security import ApiError, Principal

log = logging.getLogger("smartpay.payments")
_CLAIM = {"approve": "capturing", "reject": "voiding"}
_DONE = {"approve": "approved", "reject": "rejected"}
_SAME = {"approve": {"capturing", "captured", "refunded"}, "reject": {"voiding", "voided"}}


class Reviewing:
    """Mixed into `PaymentService` (its store, gateways, policy, clock and finish)."""

    def held_event(self, p: dict) -> Event:
        """`payment_review`: a payment held until a verdict or its deadline."""
        data = {k: p.get(k) for k in ("amount_minor", "currency", "gateway",
                                      "risk_score", "fraud_model_version",
                                      "fraud_thresholds")}
        data["status"] = "review"
        data["deadline_epoch_s"] = self.clock() + self.policy.review_hold_s
        data["default_verdict"] = self.policy.review_default
        return Event(id=f"{p['id']}:review", type="payment_review",
                     merchant_id=p["merchant_id"], payment_id=p["id"], data=data)

    async def review(self, who: Principal, payment_id: str, verdict: str,
                     note: str = "") -> PaymentView:
        """An operator's verdict on a held payment: approve captures, reject voids."""
        detail = f"{_DONE[verdict]} by {who.subject}" + (f": {note}" if note else "")
        return await self._verdict(payment_id, verdict, detail)

    async def held(self, limit: int = 100) -> list[PaymentView]:
        """Payments waiting for a verdict, longest held first (the review queue)."""
        return [to_view(p) for p in await self.store.held_for_review(limit=limit)]

    async def resolve_expired_reviews(self) -> int:
        """Give the configured default verdict to every hold older than the review
        deadline; how many were claimed (an operator's verdict may win the race)."""
        verdict, hold_s = self.policy.review_default, self.policy.review_hold_s
        claimed = 0
        for p in await self.store.held_for_review(min_age_s=hold_s, limit=500):
            try:
                await self._verdict(p["id"], verdict, f"no review within {hold_s:.0f} s: "
                                    f"{_DONE[verdict]} by default")
                claimed += 1
            except ApiError:
                continue
        return claimed

    async def _verdict(self, payment_id: str, verdict: str, detail: str) -> PaymentView:
        try:
            await self.store.transition(payment_id, _CLAIM[verdict], detail[:250])
        except IllegalTransition as exc:
            if exc.current == "missing":
                raise ApiError(404, "not_found", f"no payment {payment_id}") from None
            if exc.current in _SAME[verdict]:  # a repeat of the verdict that won
                return await self.view(payment_id)
            raise ApiError(409, "not_in_review", f"payment {payment_id} is {exc.current}: "
                           "only a payment held for review takes a verdict") from None
        await self._carry_out(await self.store.get(payment_id), detail[:250])
        return await self.finish(payment_id)

    async def _carry_out(self, p: dict, verdict: str | None = None) -> None:
        """The claimed verdict's gateway call; its outcome when definite."""
        hold = _hold(p)
        gw = self.gateways.get(hold["gateway"])
        if gw is None:
            return  # that gateway is not configured here: left for one that is
        try:
            if p["status"] == "capturing":
                res = await gw.capture(hold["reference"], hold["gateway_ref"],
                                       p["amount_minor"])
            else:
                res = await gw.void(hold["reference"], hold["gateway_ref"])
        except Exception as exc:  # unknown outcome: status sync asks again
            log.warning("review verdict on %s: %s", p["id"], type(exc).__name__)
            return
        await self._end_verdict(p, res, hold, verdict)

    async def sync_verdict(self, p: dict) -> None:
        """Status sync of a payment whose verdict's outcome is unknown: still held at
        the gateway -> carry the verdict out again; otherwise write what happened."""
        hold = _hold(p)
        gw = self.gateways.get(hold["gateway"])
        if gw is None:
            return
        res = await gw.status(hold["reference"], hold["gateway_ref"])
        if res.state == "authorized":
            await self._carry_out(p)
        else:
            await self._end_verdict(p, res, hold)

    async def _end_verdict(self, p: dict, res: GatewayResult, hold: dict,
                           verdict: str | None = None) -> None:
        """Write a definite outcome; the reason kept is the verdict (who, and their
        note) or, for a failed capture, the gateway's refusal."""
        to = d.verdict_outcome(p["status"], res)
        if to is None:
            return
        if to == "captured" and p["status"] == "voiding":
            log.warning("payment %s was captured although rejected: refund it", p["id"])
        reason = (res.message or res.state)[:250] if to == "failed" else verdict
        fields = {"reason": reason or p.get("reason")}
        attempt = (hold["reference"], res.state, res.gateway_ref or hold["gateway_ref"],
                   res.error_class)
        await self.store.record(p["id"], to, reason or to, attempt,
                                events=[processed_event({**p, **fields, "status": to})],
                                **fields)


def _hold(p: dict) -> dict:
    """The attempt that holds the authorization (the payment's last)."""
    last = p["attempts"][-1]
    return {"gateway": last["gateway"], "reference": last["reference"],
            "gateway_ref": last["gateway_ref"] or p.get("gateway_ref")}
