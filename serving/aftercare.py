"""What happens to a payment after /pay: refunds, and reconciliation of payments a crash
left between a gateway call and the ledger write (status sync with the gateway)."""

from __future__ import annotations

import logging

from serving.events import Event
from serving.flow import _settle, finish, to_view
from serving.ports import GatewayResult
from serving.runtime import Runtime
from serving.schemas import PaymentView, RefundRequest
from serving.security import ApiError, Principal

log = logging.getLogger("smartpay.aftercare")


def visible_payment(rt: Runtime, who: Principal, pid: str) -> dict:
    """The payment if it exists and this merchant may see it, else 404 (no leak)."""
    p = rt.ledger.get(pid)
    if p is None or not who.may_see(p["merchant_id"]):
        raise ApiError(404, "not_found", f"no payment {pid!r} for merchant "
                       f"{who.merchant_id!r}")
    return p


async def refund(rt: Runtime, who: Principal, pid: str, body: RefundRequest,
                 key: str) -> PaymentView:
    """Refund all or part of a captured payment through the gateway that captured it."""
    p = visible_payment(rt, who, pid)
    if p["status"] != "captured":
        raise ApiError(409, "not_refundable", f"payment {pid} is {p['status']}; only "
                       "captured payments can be refunded")
    remaining = p["amount_minor"] - p["refunded_minor"]
    amount = body.amount_minor or remaining
    if amount > remaining:
        raise ApiError(422, "validation_error", "refund too large", fields=[{
            "field": "amount_minor", "value": amount,
            "expected": f"at most the unrefunded {remaining}"}])
    res = await rt.gateways[p["gateway"]].refund(
        f"{pid}-1", p["gateway_ref"], amount, refund_key=f"{pid}-refund-{key}")
    if res.state != "refunded":
        raise ApiError(502, "gateway_error", f"{p['gateway']} refused the refund: "
                       f"{res.message or res.state}")
    total = p["refunded_minor"] + amount
    to = "refunded" if total == p["amount_minor"] else "captured"
    rt.ledger.transition(pid, to, detail=f"refund {amount} ({res.gateway_ref})",
                         refunded_minor=total)
    if rt.rewards is not None and p["reward"]:
        await _claw_back(rt, p, total)
    view = to_view(rt.ledger.get(pid))
    await rt.bus.publish(Event(type="payment_processed", merchant_id=p["merchant_id"],
                               payment_id=pid, data={"status": view.status,
                                                     "refunded_minor": total}))
    return view


async def _claw_back(rt: Runtime, p: dict, refunded_minor: int) -> None:
    """Burn the refunded share of an escrowed reward (a refund must not earn tokens)."""
    user = f"{p['merchant_id']}:{p['user_id']}"
    try:
        out = await rt.rewards.on_refund(p["id"], refunded_minor, user)
    except Exception as exc:
        log.warning("reward claw-back for %s failed: %s", p["id"], exc)
        return
    rt.ledger.update_fields(p["id"], reward={**p["reward"], "amount": out["units"],
                                             "status": out["status"]})
    await rt.cache.delete("balance", user)


async def reconcile(rt: Runtime) -> dict[str, int]:
    """Settle every payment left in created/authorized by asking its gateway."""
    counts: dict[str, int] = {}
    for p in rt.ledger.in_limbo():
        outcome = await _reconcile_one(rt, p)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


async def _reconcile_one(rt: Runtime, p: dict) -> str:
    attempts = p["attempts"]
    if not attempts:
        rt.ledger.transition(p["id"], "failed", reason="interrupted before any gateway call")
    else:
        last = attempts[-1]
        res = await _synced(rt, p, last)
        if res.state == "pending":
            return "still_pending"
        _settle(rt, p["id"], res, last["reference"], last["gateway"])
    view = await finish(rt, p["id"])
    if p["idem_key"]:
        rt.ledger.finish(p["merchant_id"], p["idem_key"], 200, view.model_dump(mode="json"))
    log.info("reconciled payment %s -> %s", p["id"], view.status)
    return view.status


async def _synced(rt: Runtime, p: dict, attempt: dict) -> GatewayResult:
    """The gateway's truth for the attempt; an authorization is captured now."""
    gw = rt.gateways[attempt["gateway"]]
    res = await gw.status(attempt["reference"], attempt["gateway_ref"])
    if res.state == "authorized":
        if p["status"] == "created":
            rt.ledger.transition(p["id"], "authorized", gateway=gw.name,
                                 gateway_ref=res.gateway_ref)
        res = await gw.capture(attempt["reference"], res.gateway_ref, p["amount_minor"])
    if res.state == "not_found":
        return GatewayResult("failed", None, "gateway", "the gateway never saw the charge")
    return res
