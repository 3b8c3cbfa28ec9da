"""How payments look from outside: the merchant's view, the `payment_processed` event,
and the keys under which risk and routing answers are cached. Pure functions."""

from __future__ import annotations

import hashlib
import time

from serving.events import Event
from serving.schemas import FraudRequest, FraudResult, PayRequest, PaymentView, RouteRequest
from serving.security import Principal


def processed_event(p: dict) -> Event:
    """`payment_processed` for a payment reaching a final status; its id is derived
    from the payment and status so a repeat of the same step dedupes downstream."""
    data = {k: p.get(k) for k in ("status", "amount_minor", "currency", "gateway",
                                  "risk_score")}
    return Event(id=f"{p['id']}:processed:{p['status']}", type="payment_processed",
                 merchant_id=p["merchant_id"], payment_id=p["id"], data=data)


def created_event(pid: str, merchant_id: str, req: PayRequest, clock=time.time) -> Event:
    """`payment_created`, committed with the payment: what it adds to its customer's
    and terminal's fraud features (`serving.fresh_features`); not sent to WebSockets."""
    data = {"customer_id": req.customer_id, "terminal_id": req.terminal_id,
            "amount_minor": req.amount_minor, "currency": req.currency,
            "tx_epoch_s": req.tx_epoch_s or int(clock())}
    return Event(id=f"{pid}:created", type="payment_created", merchant_id=merchant_id,
                 payment_id=pid, data=data)


def risk_fingerprint(r: FraudRequest, clock=time.time) -> str:
    """Same customer, terminal, card, amount and hour -> same cached risk."""
    hour = (r.tx_epoch_s or int(clock())) // 3600
    raw = f"{r.customer_id}|{r.terminal_id}|{r.card_id}|{r.amount_minor}|{r.currency}|{hour}"
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def route_request(req: PayRequest, risk: float, clock) -> RouteRequest:
    hour = (req.tx_epoch_s or int(clock())) // 3600 % 24
    return RouteRequest(amount_minor=req.amount_minor, currency=req.currency,
                        payment_method_type=req.payment_method.type, risk_score=risk,
                        hour=hour, tx_epoch_s=req.tx_epoch_s, **req.model_dump(include={
                            "card_network", "issuing_country", "merchant_category",
                            "channel", "device_id"}))


def payment_fields(who: Principal, req: PayRequest, fraud: FraudResult, key: str) -> dict:
    return dict(merchant_id=who.merchant_id, amount_minor=req.amount_minor,
                currency=req.currency, method_type=req.payment_method.type,
                method_token=req.payment_method.token,
                user_id=req.user_id or f"customer-{req.customer_id}",
                risk_score=fraud.risk_score, fraud_decision=fraud.decision, idem_key=key,
                fraud_model_version=fraud.model_version or None,
                fraud_thresholds=None if fraud.thresholds is None
                else fraud.thresholds.model_dump())


def to_view(p: dict) -> PaymentView:
    return PaymentView(
        payment_id=p["id"], merchant_id=p["merchant_id"], status=p["status"],
        amount_minor=p["amount_minor"], currency=p["currency"],
        refunded_minor=p["refunded_minor"], gateway=p["gateway"],
        risk_score=p["risk_score"], fraud_decision=p["fraud_decision"],
        fraud_model_version=p.get("fraud_model_version"),
        fraud_thresholds=p.get("fraud_thresholds"),
        attempts=[{k: a[k] for k in ("gateway", "error_class", "gateway_ref")}
                  | {"outcome": a["outcome"]} for a in p["attempts"]],
        reward=p["reward"], history=p["history"], reason=p["reason"])
