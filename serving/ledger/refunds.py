"""Refunds as conditional updates: an amount is reserved on the payment before the
gateway call and either kept (succeeded) or given back (failed).

`payments.refunded_minor` counts settled plus reserved refunds. The reservation is one
`UPDATE ... WHERE refunded_minor + amount <= amount_minor`, so concurrent refunds of one
payment can never add up to more than it, in any process, with no lock held across the
gateway call.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, exists, select

from serving.ledger.tables import Payment, Refund, Transition, utcnow
from smartpay.errors import InputError, SmartPayError


class RefundRefused(SmartPayError):
    """A refund the payment cannot take: not captured, or more than what remains."""

    def __init__(self, payment_id: str, requested: int, remaining: int,
                 status: str = "captured") -> None:
        self.payment_id, self.requested = payment_id, requested
        self.remaining, self.status = remaining, status
        if status != "captured":
            why = f"it is {status}; only captured payments can be refunded"
        else:
            why = f"at most the unrefunded {remaining} minor units may be refunded"
        super().__init__(f"payment {payment_id}: refund of {requested} refused: {why}")


class UnknownRefund(SmartPayError):
    """A refund id that was never reserved."""

    def __init__(self, refund_id: str) -> None:
        self.refund_id = refund_id
        super().__init__(f"refund {refund_id!r}: no such refund was reserved")


def reserve(conn: Connection, payment_id: str, refund_id: str,
                  amount_minor: int) -> dict:
    """Reserve the amount and insert the pending refund; an existing id is returned
    as it is (a retried request reserves nothing more)."""
    existing = get(conn, refund_id)
    if existing is not None:
        return existing
    if amount_minor <= 0:
        raise InputError("amount_minor", amount_minor, "a positive minor-unit amount")
    took = conn.execute(_RESERVE, {"p": payment_id, "a": amount_minor})
    if took.rowcount != 1:
        raise _refusal(conn, payment_id, amount_minor)
    row = {"refund_id": refund_id, "payment_id": payment_id,
           "amount_minor": amount_minor, "state": "pending", "gateway_ref": None,
           "created_at": utcnow(), "finished_at": None}
    conn.execute(_INSERT, row)
    return row


def finish(conn: Connection, refund_id: str, ok: bool | None,
                 gateway_ref: str | None) -> dict:
    """Settle a pending refund (ok None: outcome unknown, it stays pending); a refund
    already settled is left alone. Returns the refund with the payment's
    `refunded_minor` and `payment_status` after the change."""
    refund = get(conn, refund_id)
    if refund is None:
        raise UnknownRefund(refund_id)
    if refund["state"] == "pending":
        # refunds of one payment settle one at a time, so the last one to succeed sees
        # the others' outcomes and can tell that the payment is fully refunded
        conn.execute(_LOCK_PAYMENT, {"p": refund["payment_id"]})
        _settle(conn, refund, ok, gateway_ref)
    return _outcome(conn, refund_id)


def get(conn: Connection, refund_id: str) -> dict | None:
    """One refund row, or None."""
    row = (conn.execute(_GET, {"r": refund_id})).mappings().first()
    return dict(row) if row else None


def pending(conn: Connection) -> list[dict]:
    """Refunds whose outcome is unknown, oldest first (for reconciliation)."""
    rows = (conn.execute(_PENDING)).mappings().all()
    return [dict(r) for r in rows]


def _settle(conn: Connection, refund: dict, ok: bool | None,
                  gateway_ref: str | None) -> None:
    rid, now = refund["refund_id"], utcnow()
    gref = gateway_ref or refund["gateway_ref"]
    if ok is None:
        conn.execute(_NOTE_REF, {"r": rid, "gref": gref})
        return
    state = "succeeded" if ok else "failed"
    settled = conn.execute(_SETTLE, {"r": rid, "state": state, "gref": gref,
                                           "at": now})
    if settled.rowcount != 1:  # a concurrent call settled it first
        return
    if ok:
        _record_refund(conn, refund, gref, now)
    else:
        conn.execute(_GIVE_BACK, {"p": refund["payment_id"],
                                        "a": refund["amount_minor"]})


def _record_refund(conn: Connection, refund: dict, gref: str | None,
                         now: datetime) -> None:
    """captured -> refunded once everything is refunded and nothing is pending;
    a partial refund is recorded as captured -> captured."""
    pid = refund["payment_id"]
    full = conn.execute(_FULLY_REFUNDED, {"p": pid, "at": now})
    to = "refunded" if full.rowcount == 1 else "captured"
    conn.execute(_STEP, {"payment_id": pid, "from_status": "captured",
                               "to_status": to, "at": now,
                               "detail": f"refund {refund['amount_minor']} ({gref})"})


def _outcome(conn: Connection, refund_id: str) -> dict:
    refund = get(conn, refund_id) or {}
    pay = (conn.execute(_PAYMENT, {"p": refund["payment_id"]})).first()
    return {**refund, "refunded_minor": pay.refunded_minor,
            "payment_status": pay.status}


def _refusal(conn: Connection, payment_id: str,
                   amount: int) -> RefundRefused:
    pay = (conn.execute(_PAYMENT, {"p": payment_id})).first()
    if pay is None:
        return RefundRefused(payment_id, amount, 0, "missing")
    left = max(pay.amount_minor - pay.refunded_minor, 0)
    return RefundRefused(payment_id, amount, left, pay.status)


_P, _R, _T = Payment.__table__, Refund.__table__, Transition.__table__
_RESERVE = _P.update().where(
    _P.c.id == bindparam("p"), _P.c.status == "captured",
    _P.c.refunded_minor + bindparam("a") <= _P.c.amount_minor).values(
    refunded_minor=_P.c.refunded_minor + bindparam("a"))
_GIVE_BACK = _P.update().where(
    _P.c.id == bindparam("p"), _P.c.refunded_minor >= bindparam("a")).values(
    refunded_minor=_P.c.refunded_minor - bindparam("a"))
_STILL_PENDING = exists().where(_R.c.payment_id == bindparam("p"),
                                _R.c.state == "pending")
_FULLY_REFUNDED = _P.update().where(
    _P.c.id == bindparam("p"), _P.c.status == "captured",
    _P.c.refunded_minor == _P.c.amount_minor, ~_STILL_PENDING).values(
    status="refunded", updated_at=bindparam("at"))
_INSERT, _STEP = _R.insert(), _T.insert()
_GET = select(_R).where(_R.c.refund_id == bindparam("r"))
_PENDING = select(_R).where(_R.c.state == "pending").order_by(_R.c.created_at)
_PAYMENT = select(_P.c.status, _P.c.amount_minor, _P.c.refunded_minor).where(
    _P.c.id == bindparam("p"))
_LOCK_PAYMENT = select(_P.c.id).where(_P.c.id == bindparam("p")).with_for_update()
_SETTLE = _R.update().where(_R.c.refund_id == bindparam("r"),
                            _R.c.state == "pending").values(
    state=bindparam("state"), gateway_ref=bindparam("gref"),
    finished_at=bindparam("at"))
_NOTE_REF = _R.update().where(_R.c.refund_id == bindparam("r")).values(
    gateway_ref=bindparam("gref"))
