"""Idempotency-Key claims with leases: the primary key on (merchant, key) decides who
runs a request; a lease lets another process take over a key whose holder died.

The lease's expiry doubles as the holder's token: renewing is a conditional update on
the value the holder set, so a holder that lost its key cannot take it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, or_, select

from serving.ledger.tables import IdempotencyKey, utcnow


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming an Idempotency-Key: new, replay, conflict or in_progress.

    `lease_until` is set on `new`: the holder passes it to `renew_lease`."""

    kind: str
    status_code: int | None = None
    response: dict | None = None
    lease_until: datetime | None = None


def insert(conn: Connection, merchant_id: str, key: str, request_hash: str,
           lease_s: float) -> Claim:
    """Insert the key leased for `lease_s` (IntegrityError if it exists)."""
    now = utcnow()
    lease = now + timedelta(seconds=lease_s)
    conn.execute(_INSERT, {"merchant_id": merchant_id, "key": key,
                           "request_hash": request_hash, "state": "in_progress",
                           "created_at": now, "lease_until": lease})
    return Claim("new", lease_until=lease)


def existing(conn: Connection, merchant_id: str, key: str, request_hash: str,
             lease_s: float) -> Claim | None:
    """What an existing key became, or a take-over of its expired lease; None if the
    key was released meanwhile (claim it again)."""
    row = conn.execute(_GET, {"m": merchant_id, "k": key}).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        return Claim("conflict")
    if row.state == "done":
        return Claim("replay", row.status_code, row.response)
    now = utcnow()
    lease = now + timedelta(seconds=lease_s)
    took = conn.execute(_TAKE_OVER, {"m": merchant_id, "k": key, "now": now,
                                     "lease": lease})
    if took.rowcount == 1:
        return Claim("new", lease_until=lease)
    return Claim("in_progress")


def renew(conn: Connection, merchant_id: str, key: str, held: datetime,
          lease_s: float) -> datetime | None:
    """Extend the lease the holder still has; the new expiry, or None if it lost it."""
    lease = utcnow() + timedelta(seconds=lease_s)
    ok = conn.execute(_RENEW, {"m": merchant_id, "k": key, "held": held,
                               "lease": lease}).rowcount == 1
    return lease if ok else None


def finish(conn: Connection, merchant_id: str, key: str, status_code: int,
           response: dict) -> None:
    """Store the answer of a claimed key so duplicates get it back."""
    conn.execute(_FINISH, {"m": merchant_id, "k": key, "code": status_code,
                           "response": response})


def release(conn: Connection, merchant_id: str, key: str) -> None:
    """Forget a claim whose request wrote nothing (so it may be retried)."""
    conn.execute(_RELEASE, {"m": merchant_id, "k": key})


def stuck(conn: Connection) -> list[dict]:
    """Keys still in progress whose lease expired: their holder died or hung."""
    rows = conn.execute(_STUCK, {"now": utcnow()}).mappings()
    return [dict(r) for r in rows]


_K = IdempotencyKey.__table__
_THIS = (_K.c.merchant_id == bindparam("m"), _K.c.key == bindparam("k"))
_INSERT = _K.insert()
_GET = select(_K.c.request_hash, _K.c.state, _K.c.status_code, _K.c.response).where(
    *_THIS)
_TAKE_OVER = _K.update().where(
    *_THIS, _K.c.state == "in_progress",
    or_(_K.c.lease_until.is_(None), _K.c.lease_until < bindparam("now"))).values(
    lease_until=bindparam("lease"))
_RENEW = _K.update().where(*_THIS, _K.c.state == "in_progress",
                           _K.c.lease_until == bindparam("held")).values(
    lease_until=bindparam("lease"))
_FINISH = _K.update().where(*_THIS).values(
    state="done", status_code=bindparam("code"), response=bindparam("response"))
_RELEASE = _K.delete().where(*_THIS, _K.c.state != "done")
_STUCK = select(_K.c.merchant_id, _K.c.key).where(
    _K.c.state == "in_progress",
    or_(_K.c.lease_until.is_(None), _K.c.lease_until < bindparam("now")))
