"""Refunds and reward claw-backs. The refund cap is the store's conditional update
(`reserve_refund`): concurrent refunds can never add up to more than the capture."""

from __future__ import annotations

import hashlib

from serving.events import Event
from serving.payments import decisions as d
from serving.payments.service import PaymentService
from serving.payments.views import to_view
from serving.schemas import PaymentView
from serving.security import ApiError, Principal
from smartpay.errors import SmartPayError


async def visible_payment(svc: PaymentService, who: Principal, pid: str) -> dict:
    """The payment if it exists and this merchant may see it, else 404 (no leak)."""
    p = await svc.store.get(pid)
    if p is None or not who.may_see(p["merchant_id"]):
        raise ApiError(404, "not_found", f"no payment {pid!r} for merchant "
                       f"{who.merchant_id!r}")
    return p


async def refund(svc: PaymentService, who: Principal, pid: str, amount_minor: int | None,
                 key: str) -> PaymentView:
    """Reserve the amount in the store, refund it at the gateway that captured the
    payment under a key derived from the refund, then settle the reservation."""
    p = await visible_payment(svc, who, pid)
    if p["status"] != "captured":
        raise ApiError(409, "not_refundable", f"payment {pid} is {p['status']}; only "
                       "captured payments can be refunded")
    amount = d.refund_amount(amount_minor, p["amount_minor"], p["refunded_minor"])
    refund_id = refund_id_for(pid, key)
    try:
        reserved = await svc.store.reserve_refund(pid, refund_id, amount)
    except SmartPayError as exc:
        raise ApiError(422, "validation_error", str(exc), fields=[{
            "field": "amount_minor", "value": amount,
            "expected": "at most the captured amount not yet refunded"}]) from None
    if reserved.get("state") == "succeeded":  # this refund already went through
        return to_view(await svc.store.get(pid))
    if reserved.get("state") == "failed":  # refused before: never send it again
        raise ApiError(409, "refund_refused", "the refund under this Idempotency-Key "
                       "was refused by the gateway; send a new key to try again")
    res = await svc.gateways[p["gateway"]].refund(f"{pid}-1", p["gateway_ref"], amount,
                                                  refund_key=refund_id)
    return await settle_refund(svc, p, refund_id, amount, res)


def refund_id_for(pid: str, key: str) -> str:
    """The refund's id, also its idempotency key at the gateway, unique per request
    key and short enough for every gateway (a long key is sent as its digest: cut
    short, two keys could share one gateway key and one refund be counted twice)."""
    if len(key) > 24:
        key = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"{pid}-refund-{key}"


async def resend_pending(svc: PaymentService, refund: dict) -> str:
    """Re-send a refund whose outcome is unknown under its own key: the gateway
    answers with the first outcome if it went through, or refunds now (the amount is
    still reserved). The refund's state afterwards."""
    p = await svc.store.get(refund["payment_id"])
    port = svc.gateways.get(p["gateway"] or "")
    if port is None:  # that gateway is not configured here: leave it pending
        return "pending"
    res = await port.refund(f"{p['id']}-1", p["gateway_ref"], refund["amount_minor"],
                            refund_key=refund["refund_id"])
    try:
        await settle_refund(svc, p, refund["refund_id"], refund["amount_minor"], res)
    except ApiError:
        return "failed"
    return (await svc.store.get_refund(refund["refund_id"]))["state"]


async def settle_refund(svc, p: dict, refund_id: str, amount: int, res) -> PaymentView:
    """Settle the reservation with the gateway's answer, announce it and claw back
    the refunded share of the reward (502 when the gateway refused)."""
    ok = True if res.state == "refunded" else (None if d.next_step(res) == "pending"
                                               else False)
    after = await svc.store.finish_refund(refund_id, ok, res.gateway_ref)
    if ok is False:
        raise ApiError(502, "gateway_error", f"{p['gateway']} refused the refund: "
                       f"{res.message or res.state}; nothing was refunded")
    total = after["refunded_minor"]
    await svc.store.add_events([Event(
        id=f"{refund_id}:{'pending' if ok is None else 'refunded'}",
        type="payment_processed", merchant_id=p["merchant_id"], payment_id=p["id"],
        data={"status": after.get("payment_status", "captured"),
              "refunded_minor": total, "refund_pending": ok is None})])
    if svc.rewards is not None:
        if not p["reward"]:  # still queued to the minter: mint it now, then claw back
            p = {**p, "reward": await svc.mint_reward(p)}
        if p["reward"]["status"] != "failed":
            await svc.claw_back(p, total)
    return to_view(await svc.store.get(p["id"]))
