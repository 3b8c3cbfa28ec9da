"""The ledger's edge: engine, migrations, idempotency claims and recorded transitions.

All writes of one step happen in one transaction, so a failed step writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, event, select
from sqlalchemy.exc import IntegrityError

from integrations.gateways.solana.ledger import SQLITE_CACHE_PRAGMAS
from serving.ledger.states import IN_FLIGHT, IllegalTransition, can_move
from serving.ledger.tables import (
    GatewayAttempt, IdempotencyKey, Payment, Transition, utcnow,
)

_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming an Idempotency-Key: new, replay, conflict or in_progress."""

    kind: str
    status_code: int | None = None
    response: dict | None = None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    for pragma in SQLITE_CACHE_PRAGMAS:
        cur.execute(pragma)
    cur.close()


class Ledger:
    """Payments, their transitions and gateway attempts, plus idempotency keys."""

    def __init__(self, url: str) -> None:
        self.url = url
        is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 5}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine = create_engine(url, **kwargs)
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        from smartpay.locks import SCHEMA_MIGRATIONS

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with SCHEMA_MIGRATIONS, self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    # SQLAlchemy Core, not the ORM: a payment takes six ledger writes and a read, and
    # the ORM's unit of work cost ~1 ms each (half the API's CPU per /pay on 2 cores).
    # The statements are built once; each call only binds its values.

    # -- idempotency -------------------------------------------------------------
    def claim(self, merchant_id: str, key: str, request_hash: str) -> Claim:
        """Insert the key or report what an earlier request with it became."""
        try:
            with self.engine.begin() as c:
                c.execute(_K.insert(), {"merchant_id": merchant_id, "key": key,
                                        "request_hash": request_hash,
                                        "state": "in_progress", "created_at": utcnow()})
            return Claim("new")
        except IntegrityError:
            pass
        with self.engine.connect() as c:
            row = c.execute(_GET_KEY, {"m": merchant_id, "k": key}).first()
        if row is None:  # released between our insert and read: try once more
            return self.claim(merchant_id, key, request_hash)
        if row.request_hash != request_hash:
            return Claim("conflict")
        if row.state != "done":
            return Claim("in_progress")
        return Claim("replay", row.status_code, row.response)

    def finish(self, merchant_id: str, key: str, status_code: int, response: dict) -> None:
        """Store the answer of a claimed key so duplicates get it back."""
        with self.engine.begin() as c:
            c.execute(_FINISH_KEY, {"m": merchant_id, "k": key, "code": status_code,
                                    "response": response})

    def release(self, merchant_id: str, key: str) -> None:
        """Forget a claim whose request wrote nothing (so it may be retried)."""
        with self.engine.begin() as c:
            c.execute(_RELEASE_KEY, {"m": merchant_id, "k": key})

    # -- payments ----------------------------------------------------------------
    def create_payment(self, first_gateway: str | None = None, **fields: Any) -> str:
        """Insert a payment in `created` (and its first transition, and the first
        gateway attempt when known) in one transaction; returns its id."""
        pid = fields.pop("id", None) or f"pay_{uuid.uuid4().hex[:24]}"
        now = utcnow()
        with self.engine.begin() as c:
            c.execute(_P.insert(), {**_PAYMENT_DEFAULTS, **fields, "id": pid,
                                    "status": "created", "refunded_minor": 0,
                                    "created_at": now, "updated_at": now})
            c.execute(_T.insert(), _step(pid, None, "created", None, now))
            if first_gateway:
                c.execute(_A.insert(), _attempt(pid, 1, first_gateway, now))
        return pid

    def transition(self, payment_id: str, to: str, detail: str | None = None,
                   **fields: Any) -> None:
        """Move a payment to `to` if the state machine allows it; record the step."""
        self.record(payment_id, to, detail, **fields)

    def record(self, payment_id: str, to: str, detail: str | None = None,
               attempt: tuple[str, str, str | None, str | None] | None = None,
               **fields: Any) -> None:
        """One transaction: an attempt's outcome, the status change and its fields.
        A capture of a payment still `created` records `authorized` first (a gateway
        that captures at once has authorized too)."""
        now = utcnow()
        with self.engine.begin() as c:
            status = c.execute(_LOCK_STATUS, {"id": payment_id}).scalar()
            if attempt is not None:
                ref, outcome, gateway_ref, error_class = attempt
                c.execute(_FINISH_ATTEMPT, {"ref": ref, "outcome": outcome,
                                            "gref": gateway_ref, "ecls": error_class})
            steps = ["authorized", to] if status == "created" and to == "captured" else [to]
            rows = []
            for step in steps:
                if status is None or not can_move(status, step):
                    raise IllegalTransition(payment_id, status or "missing", step)
                rows.append(_step(payment_id, status, step, detail, now))
                status = step
            c.execute(_T.insert(), rows)
            c.execute(_UPDATE_PAYMENT, {**fields, "pid": payment_id, "status": status,
                                        "updated_at": now})

    def update_fields(self, payment_id: str, **fields: Any) -> None:
        """Set non-status columns (risk, route decision, reward)."""
        with self.engine.begin() as c:
            c.execute(_UPDATE_PAYMENT, {**fields, "pid": payment_id,
                                        "updated_at": utcnow()})

    def start_attempt(self, payment_id: str, seq: int, gateway: str) -> str:
        """Record a gateway call before making it; returns its reference."""
        with self.engine.begin() as c:
            c.execute(_A.insert(), _attempt(payment_id, seq, gateway, utcnow()))
        return f"{payment_id}-{seq}"

    def finish_attempt(self, reference: str, outcome: str, gateway_ref: str | None = None,
                       error_class: str | None = None) -> None:
        """Record how a gateway call ended."""
        with self.engine.begin() as c:
            c.execute(_FINISH_ATTEMPT, {"ref": reference, "outcome": outcome,
                                        "gref": gateway_ref, "ecls": error_class})

    # -- reads -------------------------------------------------------------------
    def get(self, payment_id: str) -> dict | None:
        """The payment with its attempts and status history, or None."""
        with self.engine.connect() as c:
            row = c.execute(_GET_PAYMENT, {"id": payment_id}).mappings().first()
            if row is None:
                return None
            attempts = c.execute(_GET_ATTEMPTS, {"id": payment_id}).mappings().all()
            steps = c.execute(_GET_STEPS, {"id": payment_id}).scalars().all()
        out = dict(row)
        out["attempts"] = [dict(a) for a in attempts]
        out["history"] = list(steps)
        return out

    def in_limbo(self) -> list[dict]:
        """Payments stuck before a final status (a crash interrupted them)."""
        with self.engine.connect() as c:
            ids = c.execute(select(_P.c.id).where(_P.c.status.in_(IN_FLIGHT))).scalars().all()
        return [p for p in (self.get(i) for i in ids) if p is not None]

    def recent(self, merchant_id: str, user_id: str | None = None,
               limit: int = 20) -> list[dict]:
        """A merchant's latest payments (of one user when given), newest first."""
        q = select(_P).where(_P.c.merchant_id == merchant_id)
        if user_id is not None:
            q = q.where(_P.c.user_id == user_id)
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(_P.c.created_at.desc()).limit(limit)).mappings()
            return [dict(r) for r in rows]

    def count_by_status(self) -> dict[str, int]:
        """How many payments sit in each status (for tests and the demo)."""
        from sqlalchemy import func

        with self.engine.connect() as c:
            rows = c.execute(select(_P.c.status, func.count()).group_by(_P.c.status))
            return {status: n for status, n in rows}


_P, _T = Payment.__table__, Transition.__table__
_A, _K = GatewayAttempt.__table__, IdempotencyKey.__table__
# every nullable payment column, so each insert binds the same parameter set (one
# compiled statement) whichever fields a payment has
_PAYMENT_DEFAULTS = {c.name: None for c in _P.columns if c.nullable}
_GET_KEY = select(_K.c.request_hash, _K.c.state, _K.c.status_code, _K.c.response).where(
    _K.c.merchant_id == bindparam("m"), _K.c.key == bindparam("k"))
_FINISH_KEY = _K.update().where(
    _K.c.merchant_id == bindparam("m"), _K.c.key == bindparam("k")).values(
    state="done", status_code=bindparam("code"), response=bindparam("response"))
_RELEASE_KEY = _K.delete().where(_K.c.merchant_id == bindparam("m"),
                                 _K.c.key == bindparam("k"), _K.c.state != "done")
_LOCK_STATUS = select(_P.c.status).where(_P.c.id == bindparam("id")).with_for_update()
_FINISH_ATTEMPT = _A.update().where(_A.c.reference == bindparam("ref")).values(
    outcome=bindparam("outcome"), gateway_ref=bindparam("gref"),
    error_class=bindparam("ecls"))
_UPDATE_PAYMENT = _P.update().where(_P.c.id == bindparam("pid"))
_GET_PAYMENT = select(_P).where(_P.c.id == bindparam("id"))
_GET_ATTEMPTS = select(_A.c.gateway, _A.c.outcome, _A.c.error_class, _A.c.gateway_ref,
                       _A.c.reference).where(_A.c.payment_id == bindparam("id")).order_by(
    _A.c.seq)
_GET_STEPS = select(_T.c.to_status).where(_T.c.payment_id == bindparam("id")).order_by(
    _T.c.id)


def _step(pid: str, frm: str | None, to: str, detail: str | None, at) -> dict:
    return {"payment_id": pid, "from_status": frm, "to_status": to, "detail": detail,
            "at": at}


def _attempt(pid: str, seq: int, gateway: str, at) -> dict:
    return {"payment_id": pid, "seq": seq, "gateway": gateway,
            "reference": f"{pid}-{seq}", "outcome": "pending", "error_class": None,
            "gateway_ref": None, "at": at}
