"""The ledger's edge: engine, migrations, idempotency claims and recorded transitions.

All writes of one step happen in one transaction, so a failed step writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

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
        self._session = sessionmaker(self.engine, expire_on_commit=False)

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

    # -- idempotency -------------------------------------------------------------
    def claim(self, merchant_id: str, key: str, request_hash: str) -> Claim:
        """Insert the key or report what an earlier request with it became."""
        try:
            with self._session.begin() as s:
                s.add(IdempotencyKey(merchant_id=merchant_id, key=key,
                                     request_hash=request_hash, state="in_progress"))
            return Claim("new")
        except IntegrityError:
            pass
        with self._session() as s:
            row = s.get(IdempotencyKey, (merchant_id, key))
        if row is None:  # released between our insert and read: try once more
            return self.claim(merchant_id, key, request_hash)
        if row.request_hash != request_hash:
            return Claim("conflict")
        if row.state != "done":
            return Claim("in_progress")
        return Claim("replay", row.status_code, row.response)

    def finish(self, merchant_id: str, key: str, status_code: int, response: dict) -> None:
        """Store the answer of a claimed key so duplicates get it back."""
        with self._session.begin() as s:
            s.execute(update(IdempotencyKey)
                      .where(IdempotencyKey.merchant_id == merchant_id,
                             IdempotencyKey.key == key)
                      .values(state="done", status_code=status_code, response=response))

    def release(self, merchant_id: str, key: str) -> None:
        """Forget a claim whose request wrote nothing (so it may be retried)."""
        with self._session.begin() as s:
            row = s.get(IdempotencyKey, (merchant_id, key))
            if row is not None and row.state != "done":
                s.delete(row)

    # -- payments ----------------------------------------------------------------
    def create_payment(self, first_gateway: str | None = None, **fields: Any) -> str:
        """Insert a payment in `created` (and its first transition, and the first
        gateway attempt when known) in one transaction; returns its id."""
        pid = fields.pop("id", None) or f"pay_{uuid.uuid4().hex[:24]}"
        now = utcnow()
        with self._session.begin() as s:
            s.add(Payment(id=pid, status="created", refunded_minor=0,
                          created_at=now, updated_at=now, **fields))
            s.flush()
            s.add(Transition(payment_id=pid, from_status=None, to_status="created", at=now))
            if first_gateway:
                s.add(GatewayAttempt(payment_id=pid, seq=1, gateway=first_gateway,
                                     reference=f"{pid}-1", outcome="pending"))
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
        with self._session.begin() as s:
            row = s.get(Payment, payment_id, with_for_update=True)
            if attempt is not None:
                ref, outcome, gateway_ref, error_class = attempt
                s.execute(update(GatewayAttempt).where(GatewayAttempt.reference == ref)
                          .values(outcome=outcome, gateway_ref=gateway_ref,
                                  error_class=error_class))
            steps = ["authorized", to] if (row is not None and to == "captured"
                                           and row.status == "created") else [to]
            for step in steps:
                if row is None or not can_move(row.status, step):
                    raise IllegalTransition(payment_id, row.status if row else "missing", step)
                s.add(Transition(payment_id=payment_id, from_status=row.status,
                                 to_status=step, detail=detail))
                row.status = step
            row.updated_at = utcnow()
            for name, value in fields.items():
                setattr(row, name, value)

    def update_fields(self, payment_id: str, **fields: Any) -> None:
        """Set non-status columns (risk, route decision, reward)."""
        with self._session.begin() as s:
            s.execute(update(Payment).where(Payment.id == payment_id)
                      .values(updated_at=utcnow(), **fields))

    def start_attempt(self, payment_id: str, seq: int, gateway: str) -> str:
        """Record a gateway call before making it; returns its reference."""
        ref = f"{payment_id}-{seq}"
        with self._session.begin() as s:
            s.add(GatewayAttempt(payment_id=payment_id, seq=seq, gateway=gateway,
                                 reference=ref, outcome="pending"))
        return ref

    def finish_attempt(self, reference: str, outcome: str, gateway_ref: str | None = None,
                       error_class: str | None = None) -> None:
        """Record how a gateway call ended."""
        with self._session.begin() as s:
            s.execute(update(GatewayAttempt).where(GatewayAttempt.reference == reference)
                      .values(outcome=outcome, gateway_ref=gateway_ref,
                              error_class=error_class))

    # -- reads -------------------------------------------------------------------
    def get(self, payment_id: str) -> dict | None:
        """The payment with its attempts and status history, or None."""
        with self._session() as s:
            row = s.get(Payment, payment_id)
            if row is None:
                return None
            attempts = s.scalars(select(GatewayAttempt)
                                 .where(GatewayAttempt.payment_id == payment_id)
                                 .order_by(GatewayAttempt.seq)).all()
            steps = s.scalars(select(Transition)
                              .where(Transition.payment_id == payment_id)
                              .order_by(Transition.id)).all()
            return _as_dict(row, attempts, steps)

    def in_limbo(self) -> list[dict]:
        """Payments stuck before a final status (a crash interrupted them)."""
        with self._session() as s:
            ids = s.scalars(select(Payment.id).where(Payment.status.in_(IN_FLIGHT))).all()
        return [p for p in (self.get(i) for i in ids) if p is not None]

    def recent(self, merchant_id: str, user_id: str | None = None,
               limit: int = 20) -> list[dict]:
        """A merchant's latest payments (of one user when given), newest first."""
        with self._session() as s:
            q = select(Payment).where(Payment.merchant_id == merchant_id)
            if user_id is not None:
                q = q.where(Payment.user_id == user_id)
            rows = s.scalars(q.order_by(Payment.created_at.desc()).limit(limit)).all()
            return [{c.name: getattr(r, c.name) for c in Payment.__table__.columns}
                    for r in rows]

    def count_by_status(self) -> dict[str, int]:
        """How many payments sit in each status (for tests and the demo)."""
        from sqlalchemy import func

        with self._session() as s:
            rows = s.execute(select(Payment.status, func.count()).group_by(Payment.status))
            return {status: n for status, n in rows}


def _as_dict(row: Payment, attempts, steps) -> dict:
    cols = {c.name: getattr(row, c.name) for c in Payment.__table__.columns}
    cols["attempts"] = [
        {"gateway": a.gateway, "outcome": a.outcome, "error_class": a.error_class,
         "gateway_ref": a.gateway_ref, "reference": a.reference} for a in attempts
    ]
    cols["history"] = [t.to_status for t in steps]
    return cols
