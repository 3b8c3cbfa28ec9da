"""Payments, their transitions and gateway attempts as SQLAlchemy Core statements on a
synchronous connection (the store runs each function as one transaction in a worker).

Core, not the ORM: a payment takes six ledger writes and a read, and the ORM's unit of
work cost ~1 ms each. The statements are built once; each call only binds its values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, String, bindparam, cast, func, or_, select

from serving.ledger import outbox
from serving.ledger.states import IN_FLIGHT, IllegalTransition, can_move
from serving.ledger.tables import GatewayAttempt, Payment, RouteDecision, Transition, utcnow

# reference, outcome, gateway ref, error class
Attempt = tuple[str, str, str | None, str | None]


def create(conn: Connection, pid: str, first_gateway: str | None,
           fields: dict[str, Any], decision: dict | None = None) -> str:
    """Insert a payment in `created`, its first transition and first attempt, and the
    routing decision it was made with."""
    now = utcnow()
    conn.execute(_P.insert(), {**_PAYMENT_DEFAULTS, **fields, "id": pid,
                               "status": "created", "refunded_minor": 0,
                               "created_at": now, "updated_at": now})
    conn.execute(_T.insert(), _step(pid, None, "created", None, now))
    if first_gateway:
        conn.execute(_A.insert(), _attempt(pid, 1, first_gateway, now))
    if decision is not None:
        conn.execute(_D.insert(), {**decision, "payment_id": pid, "created_at": now})
    return pid


def record(conn: Connection, pid: str, to: str, detail: str | None,
           attempt: Attempt | None, fields: dict[str, Any],
           decision_outcome: dict | None = None) -> None:
    """An attempt's outcome, the status change (row locked first) and its fields, and
    the outcome of the routing decision when it is known."""
    now = utcnow()
    status = conn.execute(_LOCK_STATUS, {"id": pid}).scalar()
    if attempt is not None:
        finish_attempt(conn, *attempt)
    if decision_outcome is not None:
        conn.execute(_DECISION_OUTCOME, decision_outcome)
    rows, status = _steps(pid, status, to, detail, now)
    conn.execute(_T.insert(), rows)
    conn.execute(_UPDATE_PAYMENT, {**fields, "pid": pid, "status": status,
                                   "updated_at": now})


def update_fields(conn: Connection, pid: str, fields: dict[str, Any]) -> None:
    """Set non-status columns."""
    conn.execute(_UPDATE_PAYMENT, {**fields, "pid": pid, "updated_at": utcnow()})


def set_reward(conn: Connection, pid: str, reward: dict, events: list) -> int | None:
    """Write a payment's first reward and its events; the payment's refunded total as
    it stood then, or None (nothing written) when a reward is already there (a
    refund's claw-back wrote a later state)."""
    row = conn.execute(_SET_REWARD, {"pid": pid, "reward": reward,
                                     "updated_at": utcnow()}).first()
    if row is None:
        return None
    outbox.write(conn, events)
    return row[0]


def start_attempt(conn: Connection, pid: str, seq: int, gateway: str) -> str:
    """Record a gateway call before making it; returns its reference."""
    conn.execute(_A.insert(), _attempt(pid, seq, gateway, utcnow()))
    return f"{pid}-{seq}"


def finish_attempt(conn: Connection, reference: str, outcome: str,
                   gateway_ref: str | None, error_class: str | None) -> None:
    """Record how a gateway call ended."""
    conn.execute(_FINISH_ATTEMPT, {"ref": reference, "outcome": outcome,
                                   "gref": gateway_ref, "ecls": error_class})


def get(conn: Connection, pid: str) -> dict | None:
    """The payment with its attempts and status history, or None."""
    row = conn.execute(_GET_PAYMENT, {"id": pid}).mappings().first()
    if row is None:
        return None
    out = dict(row)
    attempts = conn.execute(_GET_ATTEMPTS, {"id": pid}).mappings()
    out["attempts"] = [dict(a) for a in attempts]
    out["history"] = list(conn.execute(_GET_STEPS, {"id": pid}).scalars())
    return out


def by_key(conn: Connection, merchant_id: str, key: str) -> dict | None:
    """The payment created under a merchant's Idempotency-Key, if any."""
    pid = conn.execute(_BY_KEY, {"m": merchant_id, "k": key}).scalar()
    return None if pid is None else get(conn, pid)


def in_limbo(conn: Connection, before=None) -> list[dict]:
    """Payments stuck before a final status (last changed before `before`, if given)."""
    q = _IN_FLIGHT if before is None else _IN_FLIGHT.where(_P.c.updated_at < before)
    return _full(conn, q)


def _full(conn: Connection, ids_query) -> list[dict]:
    """The payments (with attempts and history) whose ids the query selects, in its
    order."""
    found = [get(conn, i) for i in conn.execute(ids_query).scalars().all()]
    return [p for p in found if p is not None]


def held(conn: Connection, before, limit: int) -> list[dict]:
    """Payments held for review (held since before `before`, if given), oldest first."""
    q = select(_P.c.id).where(_P.c.status == "review")
    if before is not None:
        q = q.where(_P.c.updated_at < before)
    return _full(conn, q.order_by(_P.c.updated_at).limit(limit))


def decisions(conn: Connection, since, until, limit: int) -> list[dict]:
    """Decisions with a known outcome made in [since, until), oldest first."""
    q = select(_D).where(_D.c.success.is_not(None))
    if since is not None:
        q = q.where(_D.c.created_at >= since)
    if until is not None:
        q = q.where(_D.c.created_at < until)
    q = q.order_by(_D.c.created_at, _D.c.decision_id).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def unrewarded(conn: Connection, since, before, limit: int) -> list[dict]:
    """Captured payments created between `since` and `before` whose reward was never
    written."""
    q = (select(_P).where(_P.c.status == "captured", _unset(_P.c.reward),
                          _P.c.created_at >= since, _P.c.updated_at < before)
         .order_by(_P.c.created_at).limit(limit))
    return [dict(r) for r in conn.execute(q).mappings()]


def every(conn: Connection) -> list[dict]:
    """Every payment with its attempts, oldest first (for the reconciliation report)."""
    rows = [dict(r) for r in conn.execute(_ALL_PAYMENTS).mappings()]
    attempts: dict[str, list[dict]] = {}
    for a in conn.execute(_ALL_ATTEMPTS).mappings():
        attempts.setdefault(a["payment_id"], []).append(dict(a))
    return [{**r, "attempts": attempts.get(r["id"], [])} for r in rows]


def attempts_since(conn: Connection, since) -> list[tuple]:
    """(gateway, outcome, at) of every gateway attempt made since `since`."""
    q = select(_A.c.gateway, _A.c.outcome, _A.c.at).where(_A.c.at >= since)
    return [tuple(r) for r in conn.execute(q)]


def decisions_since(conn: Connection, since) -> list[tuple]:
    """(gateway, created_at, latency_ms, propensity, max probability) of the routing
    decisions made since `since` (latency None while the outcome is unknown)."""
    q = select(_D.c.gateway, _D.c.created_at, _D.c.latency_ms, _D.c.propensity,
               _D.c.record).where(_D.c.created_at >= since)
    return [(g, at, ms, p, max(rec.get("pmf") or [p])) for g, at, ms, p, rec in
            conn.execute(q)]


def latest(conn: Connection, merchant_id: str | None, status: str | None,
           limit: int) -> list[dict]:
    """The newest payments (of one merchant, in one status, when given) with their
    attempts and history, newest first."""
    q = select(_P.c.id)
    if merchant_id is not None:
        q = q.where(_P.c.merchant_id == merchant_id)
    if status is not None:
        q = q.where(_P.c.status == status)
    return _full(conn, q.order_by(_P.c.created_at.desc(), _P.c.id).limit(limit))


def recent(conn: Connection, merchant_id: str, user_id: str | None,
           limit: int) -> list[dict]:
    """A merchant's latest payments (of one user when given), newest first."""
    q = select(_P).where(_P.c.merchant_id == merchant_id)
    if user_id is not None:
        q = q.where(_P.c.user_id == user_id)
    rows = conn.execute(q.order_by(_P.c.created_at.desc()).limit(limit))
    return [dict(r) for r in rows.mappings()]


def scored_since(conn: Connection, merchant_id: str | None, since) -> list[tuple]:
    """(created_at, risk_score, fraud_decision, status) of the payments made since
    `since` (of one merchant when given), for the fraud page."""
    q = select(_P.c.created_at, _P.c.risk_score, _P.c.fraud_decision, _P.c.status
               ).where(_P.c.created_at >= since)
    if merchant_id is not None:
        q = q.where(_P.c.merchant_id == merchant_id)
    return [tuple(r) for r in conn.execute(q)]


def rewarded(conn: Connection, merchant_id: str | None, limit: int) -> list[dict]:
    """(id, merchant_id, user_id, reward) of the newest payments that name a user (of
    one merchant when given), for the rewards page."""
    q = select(_P.c.id, _P.c.merchant_id, _P.c.user_id, _P.c.reward).where(
        _P.c.user_id.is_not(None))
    if merchant_id is not None:
        q = q.where(_P.c.merchant_id == merchant_id)
    q = q.order_by(_P.c.created_at.desc()).limit(limit)
    return [dict(r) for r in conn.execute(q).mappings()]


def count_by_status(conn: Connection) -> dict[str, int]:
    """How many payments sit in each status."""
    return {status: n for status, n in conn.execute(_COUNT_BY_STATUS)}


def _steps(pid: str, status: str | None, to: str, detail: str | None,
           now) -> tuple[list[dict], str]:
    """The transition rows from `status` to `to`, and the status they end in. A capture
    of a payment still `created` records `authorized` first."""
    steps = ["authorized", to] if status == "created" and to == "captured" else [to]
    rows = []
    for step in steps:
        if status is None or not can_move(status, step):
            raise IllegalTransition(pid, status or "missing", step)
        rows.append(_step(pid, status, step, detail, now))
        status = step
    return rows, status


_P, _T, _A = Payment.__table__, Transition.__table__, GatewayAttempt.__table__
_D = RouteDecision.__table__


def _unset(col):
    """A JSON column holding nothing: SQL NULL, or the JSON `null` that an insert
    binding None writes."""
    return or_(col.is_(None), cast(col, String) == "null")

# every nullable payment column, so each insert binds the same parameter set (one
# compiled statement) whichever fields a payment has
_PAYMENT_DEFAULTS = {c.name: None for c in _P.columns if c.nullable}
_LOCK_STATUS = select(_P.c.status).where(_P.c.id == bindparam("id")).with_for_update()
_FINISH_ATTEMPT = _A.update().where(_A.c.reference == bindparam("ref")).values(
    outcome=bindparam("outcome"), gateway_ref=bindparam("gref"),
    error_class=bindparam("ecls"))
_UPDATE_PAYMENT = _P.update().where(_P.c.id == bindparam("pid"))
_DECISION_OUTCOME = _D.update().where(_D.c.decision_id == bindparam("did")).values(
    success=bindparam("success"), latency_ms=bindparam("latency_ms"),
    outcome=bindparam("outcome"))
_SET_REWARD = _P.update().where(_P.c.id == bindparam("pid"), _unset(_P.c.reward)).values(
    reward=bindparam("reward"), updated_at=bindparam("updated_at")).returning(
    _P.c.refunded_minor)
_GET_PAYMENT = select(_P).where(_P.c.id == bindparam("id"))
_GET_ATTEMPTS = select(_A.c.gateway, _A.c.outcome, _A.c.error_class, _A.c.gateway_ref,
                       _A.c.reference, _A.c.at).where(
    _A.c.payment_id == bindparam("id")).order_by(_A.c.seq)
_BY_KEY = select(_P.c.id).where(_P.c.merchant_id == bindparam("m"),
                                _P.c.idem_key == bindparam("k")).limit(1)
_GET_STEPS = select(_T.c.to_status).where(_T.c.payment_id == bindparam("id")).order_by(
    _T.c.id)
_IN_FLIGHT = select(_P.c.id).where(_P.c.status.in_(IN_FLIGHT))
_ALL_PAYMENTS = select(_P).order_by(_P.c.created_at)
_ALL_ATTEMPTS = select(_A.c.payment_id, _A.c.gateway, _A.c.outcome, _A.c.gateway_ref,
                       _A.c.reference).order_by(_A.c.payment_id, _A.c.seq)
_COUNT_BY_STATUS = select(_P.c.status, func.count()).group_by(_P.c.status)


def _step(pid: str, frm: str | None, to: str, detail: str | None, at) -> dict:
    return {"payment_id": pid, "from_status": frm, "to_status": to, "detail": detail,
            "at": at}


def _attempt(pid: str, seq: int, gateway: str, at) -> dict:
    return {"payment_id": pid, "seq": seq, "gateway": gateway,
            "reference": f"{pid}-{seq}", "outcome": "pending", "error_class": None,
            "gateway_ref": None, "at": at}
