"""The ledger's edge: payments, recorded transitions, gateway attempts, idempotency
claims and refunds, as async methods over synchronous SQLAlchemy Core run in worker
threads (`smartpay.db.SyncRunner`: pysqlite locally, psycopg in prod).

Each method is one transaction on one thread hop, so a failed step writes nothing; the
events a step announces are outbox rows of that same transaction (`events=`), and the
relay is woken on the loop once it has committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from serving.ledger import engine as _engine
from serving.ledger import keys, outbox, payments, refunds
from serving.ledger.dead_letters import DeadLetters
from serving.ledger.keys import Claim
from serving.ledger.outbox import EventLike, Outbox
from serving.ledger.tables import utcnow

Events = Sequence[EventLike]


def new_payment_id() -> str:
    """A fresh payment id, for callers whose events name the payment they create."""
    return f"pay_{uuid.uuid4().hex[:24]}"


class Ledger:
    """Payments, their transitions, gateway attempts, refunds and idempotency keys,
    plus the outbox and dead letters of the events about them."""

    def __init__(self, url: str) -> None:
        self.url = url
        # `runner.run(fn, *args)` runs `fn(conn, *args)` in a transaction (also for
        # tests that need raw SQL)
        self.runner = _engine.make_runner(url)
        self.outbox = Outbox(self.runner)
        self.dead_letters = DeadLetters(self.runner, self.notify)
        # called after each commit that wrote outbox rows (the relay's `wake`)
        self.on_events: Callable[[], None] | None = None

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        await _engine.migrate(self.runner)

    async def close(self) -> None:
        """Finish queued transactions, stop the worker threads, close connections."""
        await self.runner.close()

    def notify(self) -> None:
        """Tell the relay that committed events wait in the outbox."""
        if self.on_events is not None:
            self.on_events()

    async def _write(self, events: Events, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(conn, *args)` and the events in one transaction, announced after it."""
        result, wrote = await self.runner.run(_with_events, fn, list(events), args)
        if wrote:
            self.notify()
        return result

    # -- idempotency -------------------------------------------------------------
    async def claim(self, merchant_id: str, key: str, request_hash: str,
                    lease_s: float = 30.0) -> Claim:
        """Insert the key (leased for `lease_s`), take over one whose lease expired, or
        report what an earlier request with it became."""
        args = (merchant_id, key, request_hash, lease_s)
        while True:
            try:
                return await self.runner.run(keys.insert, *args)
            except IntegrityError:
                pass
            found = await self.runner.run(keys.existing, *args)
            if found is not None:  # None: released between our insert and read
                return found

    async def renew_lease(self, merchant_id: str, key: str, held: datetime,
                          lease_s: float = 30.0) -> datetime | None:
        """Extend a key's lease while its request runs (`held` is the current expiry);
        the new expiry, or None if another process took the key over."""
        return await self.runner.run(keys.renew, merchant_id, key, held, lease_s)

    async def finish(self, merchant_id: str, key: str, status_code: int,
                     response: dict) -> None:
        """Store the answer of a claimed key so duplicates get it back."""
        await self.runner.run(keys.finish, merchant_id, key, status_code, response)

    async def release(self, merchant_id: str, key: str) -> None:
        """Forget a claim whose request wrote nothing (so it may be retried)."""
        await self.runner.run(keys.release, merchant_id, key)

    # -- payments ----------------------------------------------------------------
    async def create_payment(self, first_gateway: str | None = None,
                             events: Events = (), decision: dict | None = None,
                             **fields: Any) -> str:
        """Insert a payment in `created` (and its first transition, the first gateway
        attempt when known and the routing decision it was made with) in one
        transaction; returns its id."""
        pid = fields.pop("id", None) or new_payment_id()
        return await self._write(events, payments.create, pid, first_gateway, fields,
                                 decision)

    async def transition(self, payment_id: str, to: str, detail: str | None = None,
                         events: Events = (), **fields: Any) -> None:
        """Move a payment to `to` if the state machine allows it; record the step."""
        await self.record(payment_id, to, detail, events=events, **fields)

    async def record(self, payment_id: str, to: str, detail: str | None = None,
                     attempt: tuple[str, str, str | None, str | None] | None = None,
                     events: Events = (), decision_outcome: dict | None = None,
                     **fields: Any) -> None:
        """One transaction: an attempt's outcome, the status change, its fields and
        events, and the routing decision's outcome (`{did, success, latency_ms,
        outcome}`) when known. A capture of a payment still `created` records
        `authorized` first (a gateway that captures at once has authorized too)."""
        await self._write(events, payments.record, payment_id, to, detail, attempt,
                          fields, decision_outcome)

    async def update_fields(self, payment_id: str, events: Events = (),
                            **fields: Any) -> None:
        """Set non-status columns (risk, route decision, reward)."""
        await self._write(events, payments.update_fields, payment_id, fields)

    async def set_reward(self, payment_id: str, reward: dict,
                         events: Events = ()) -> int | None:
        """Write a payment's first reward with its events, unless one is there; the
        payment's refunded total when written, else None."""
        refunded = await self.runner.run(payments.set_reward, payment_id, reward,
                                         list(events))
        if refunded is not None and events:
            self.notify()
        return refunded

    async def add_events(self, events: Events) -> None:
        """Write events that go with no state change (they still reach the relay)."""
        await self._write(events, _nothing)

    async def start_attempt(self, payment_id: str, seq: int, gateway: str) -> str:
        """Record a gateway call before making it; returns its reference."""
        return await self.runner.run(payments.start_attempt, payment_id, seq, gateway)

    async def finish_attempt(self, reference: str, outcome: str,
                             gateway_ref: str | None = None,
                             error_class: str | None = None) -> None:
        """Record how a gateway call ended."""
        await self.runner.run(payments.finish_attempt, reference, outcome, gateway_ref,
                              error_class)

    # -- refunds (`refunded_minor` counts settled + reserved refunds) ---------------
    async def reserve_refund(self, payment_id: str, refund_id: str,
                             amount_minor: int) -> dict:
        """Reserve a refund on a captured payment if it fits in what remains (else
        `RefundRefused`); the same `refund_id` again returns the first reservation."""
        try:
            return await self.runner.run(refunds.reserve, payment_id, refund_id,
                                         amount_minor)
        except IntegrityError:  # a concurrent call reserved this id first
            return await self.runner.run(refunds.get, refund_id)

    async def finish_refund(self, refund_id: str, ok: bool | None,
                            gateway_ref: str | None = None,
                            events: Events = ()) -> dict:
        """Settle a reserved refund: kept on success (the payment becomes `refunded`
        once all of it is refunded and nothing is pending), given back on failure,
        left pending when the outcome is unknown (`ok` None). Returns the refund with
        the payment's `refunded_minor` and `payment_status` after the change."""
        return await self._write(events, refunds.finish, refund_id, ok, gateway_ref)

    async def get_refund(self, refund_id: str) -> dict | None:
        """One refund, or None."""
        return await self.runner.run(refunds.get, refund_id)

    async def pending_refunds(self) -> list[dict]:
        """Refunds whose outcome is unknown (for reconciliation), oldest first."""
        return await self.runner.run(refunds.pending)

    # -- reads -------------------------------------------------------------------
    async def get(self, payment_id: str) -> dict | None:
        """The payment with its attempts and status history, or None."""
        return await self.runner.run(payments.get, payment_id)

    async def payment_by_key(self, merchant_id: str, key: str) -> dict | None:
        """The payment created under a merchant's Idempotency-Key, if any (a claim that
        outlived a crashed process must not create a second payment)."""
        return await self.runner.run(payments.by_key, merchant_id, key)

    async def in_limbo(self, min_age_s: float = 0.0) -> list[dict]:
        """Payments stuck before a final status (a crash, an unknown outcome)."""
        before = utcnow() - timedelta(seconds=min_age_s) if min_age_s else None
        return await self.runner.run(payments.in_limbo, before)

    async def held_for_review(self, min_age_s: float | None = None,
                              limit: int = 100) -> list[dict]:
        """Payments held for review, oldest first; only those held for more than
        `min_age_s` when given (the review deadline's sweep)."""
        before = None if min_age_s is None else utcnow() - timedelta(seconds=min_age_s)
        return await self.runner.run(payments.held, before, limit)

    async def unrewarded(self, min_age_s: float = 0.0, within_s: float = 7 * 86_400,
                         limit: int = 1_000) -> list[dict]:
        """Captured payments of the last `within_s`, unchanged for `min_age_s`, whose
        reward was never written (queued when a process died, or its mint failed),
        oldest first."""
        now = utcnow()
        return await self.runner.run(payments.unrewarded, now - timedelta(seconds=within_s),
                                     now - timedelta(seconds=min_age_s), limit)

    async def decisions(self, since=None, until=None, limit: int = 1_000_000) -> list[dict]:
        """Routing decisions with a known outcome made in [since, until) (datetimes),
        oldest first."""
        return await self.runner.run(payments.decisions, since, until, limit)

    async def every_payment(self) -> list[dict]:
        """Every payment with its attempts, oldest first (reconciliation report)."""
        return await self.runner.run(payments.every)

    async def stuck_keys(self) -> list[dict]:
        """Idempotency keys in progress whose lease expired (merchant_id, key)."""
        return await self.runner.run(keys.stuck)

    async def traffic(self, since) -> tuple[list[tuple], list[tuple]]:
        """Gateway attempts and routing decisions since `since` (a datetime), read in
        one transaction (`serving.opsview` turns them into per-gateway series)."""
        return await self.runner.run(_traffic, since)

    async def latest(self, merchant_id: str | None, status: str | None = None,
                     limit: int = 50) -> list[dict]:
        """The newest payments with attempts and history (every merchant's when
        `merchant_id` is None), newest first."""
        return await self.runner.run(payments.latest, merchant_id, status, limit)

    async def recent(self, merchant_id: str, user_id: str | None = None,
                     limit: int = 20) -> list[dict]:
        """A merchant's latest payments (of one user when given), newest first."""
        return await self.runner.run(payments.recent, merchant_id, user_id, limit)

    async def scored_since(self, merchant_id: str | None, since) -> list[tuple]:
        """(created_at, risk_score, fraud_decision, status) of the payments made since
        `since` (every merchant's when `merchant_id` is None)."""
        return await self.runner.run(payments.scored_since, merchant_id, since)

    async def rewarded(self, merchant_id: str | None, limit: int = 1_000) -> list[dict]:
        """The newest payments that name a user: id, merchant, user and reward."""
        return await self.runner.run(payments.rewarded, merchant_id, limit)

    async def count_by_status(self) -> dict[str, int]:
        """How many payments sit in each status (for tests and the demo)."""
        return await self.runner.run(payments.count_by_status)


def _with_events(conn: Connection, fn: Callable[..., Any], events: list[EventLike],
                 args: tuple) -> tuple[Any, int]:
    return fn(conn, *args), outbox.write(conn, events)


def _traffic(conn: Connection, since) -> tuple[list[tuple], list[tuple]]:
    return payments.attempts_since(conn, since), payments.decisions_since(conn, since)


def _nothing(_conn: Connection) -> None:
    return None
