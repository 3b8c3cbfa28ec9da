"""The payment ledger (`serving.ledger.Ledger`) in memory, and a clock to go with it.

`FakeStore` keeps the ledger's async API and its money rules: the state machine of
`serving.ledger.states`, refunds reserved by a check-and-add that can never pass the
captured amount, and each step's events written to the outbox in the same commit as
its state change (a failed step writes nothing; an event id is unique). Its reads
return what the ledger's reads return, so a service that relies on more fails here as
it would in production.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from serving.ledger import Claim, IllegalTransition, RefundRefused, UnknownRefund
from serving.ledger.states import IN_FLIGHT, can_move
from serving.ledger.tables import Payment
from smartpay.errors import InputError

_COLUMNS = {c.name: c.nullable for c in Payment.__table__.columns}
_SET_BY_STORE = {"id", "status", "refunded_minor", "created_at", "updated_at"}
# what `Ledger.get` selects of an attempt
_ATTEMPT_READ = ("gateway", "outcome", "error_class", "gateway_ref", "reference", "at")


class FakeClock:
    """Seconds since the epoch, moved only by `advance`."""

    def __init__(self, now: float = 1_795_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, timezone.utc)


class DuplicateEvent(Exception):
    """The outbox's unique event id refused a second event with the same id."""


@dataclass(frozen=True)
class Commit:
    """One committed step: what it did, to which payment, the payment's status after
    it and the types of the events written with it."""

    op: str
    payment_id: str | None
    status: str | None
    events: tuple[str, ...]


class FakeStore:
    """Payments, attempts, refunds, idempotency keys and the outbox, in dicts."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.payments: dict[str, dict] = {}
        self.attempts: dict[str, dict] = {}  # by reference
        self.refunds: dict[str, dict] = {}
        self.decisions: dict[str, dict] = {}  # the decision log, by decision id
        self.keys: dict[tuple[str, str], dict] = {}
        self.outbox: list = []
        self.commits: list[Commit] = []
        self._ids = itertools.count(1)

    def events(self, type_: str | None = None) -> list:
        """The outbox's events (of one type), in the order they were written."""
        return [e for e in self.outbox if type_ is None or e.type == type_]

    @contextlib.contextmanager
    def _tx(self, op: str, pid: str | None, events: Iterable = ()):
        """All of a step or none of it; its events are written with it."""
        saved = copy.deepcopy((self.payments, self.attempts, self.refunds))
        try:
            yield
            events = list(events)
            seen = {e.id for e in self.outbox}
            for e in events:
                e.model_dump(mode="json")  # the outbox stores JSON
                if e.id in seen:
                    raise DuplicateEvent(f"event id {e.id!r} is already in the outbox")
                seen.add(e.id)
        except BaseException:
            self.payments, self.attempts, self.refunds = saved
            raise
        self.outbox.extend(events)
        status = self.payments[pid]["status"] if pid in self.payments else None
        self.commits.append(Commit(op, pid, status, tuple(e.type for e in events)))

    # -- payments ----------------------------------------------------------------
    async def create_payment(self, first_gateway: str | None = None, events=(),
                             decision: dict | None = None, **fields: Any) -> str:
        pid = fields.pop("id", None) or f"pay_{next(self._ids):04d}"
        _check_columns(fields, creating=True)
        now = self.clock.utc()
        with self._tx("create_payment", pid, events):
            nulls = {c: None for c, nullable in _COLUMNS.items() if nullable}
            self.payments[pid] = {**nulls, **fields, "id": pid, "status": "created",
                                  "refunded_minor": 0, "created_at": now,
                                  "updated_at": now, "_history": ["created"]}
            if first_gateway:
                self._insert_attempt(pid, 1, first_gateway)
            if decision is not None:
                self.decisions[decision["decision_id"]] = {
                    **decision, "payment_id": pid, "created_at": now, "success": None,
                    "latency_ms": None, "outcome": None}
        return pid

    async def transition(self, payment_id: str, to: str, detail: str | None = None,
                         events=(), **fields: Any) -> None:
        await self.record(payment_id, to, detail, events=events, **fields)

    async def record(self, payment_id: str, to: str, detail: str | None = None,
                     attempt: tuple | None = None, events=(),
                     decision_outcome: dict | None = None, **fields: Any) -> None:
        """The attempt's outcome, the status change (created -> captured passes
        through authorized) and its fields and events, in one commit."""
        _check_columns(fields)
        with self._tx("record", payment_id, events):
            p = self.payments.get(payment_id)
            status = p["status"] if p else None
            if attempt is not None:
                self._finish_attempt(*attempt)
            if decision_outcome is not None:
                out = dict(decision_outcome)
                self.decisions[out.pop("did")].update(out)
            via = ["authorized"] if status == "created" and to == "captured" else []
            for step in [*via, to]:
                if status is None or not can_move(status, step):
                    raise IllegalTransition(payment_id, status or "missing", step)
                p["_history"].append(step)
                status = step
            p.update(fields, status=status, updated_at=self.clock.utc())

    async def update_fields(self, payment_id: str, events=(), **fields: Any) -> None:
        _check_columns(fields)
        with self._tx("update_fields", payment_id, events):
            if payment_id in self.payments:
                self.payments[payment_id].update(fields, updated_at=self.clock.utc())

    async def set_reward(self, payment_id: str, reward: dict, events=()) -> int | None:
        if self.payments[payment_id].get("reward"):
            return None
        await self.update_fields(payment_id, events, reward=reward)
        return self.payments[payment_id]["refunded_minor"]

    async def add_events(self, events) -> None:
        with self._tx("add_events", None, events):
            pass

    async def start_attempt(self, payment_id: str, seq: int, gateway: str) -> str:
        with self._tx("start_attempt", payment_id):
            return self._insert_attempt(payment_id, seq, gateway)

    async def finish_attempt(self, reference: str, outcome: str,
                             gateway_ref: str | None = None,
                             error_class: str | None = None) -> None:
        with self._tx("finish_attempt", None):
            self._finish_attempt(reference, outcome, gateway_ref, error_class)

    def _insert_attempt(self, pid: str, seq: int, gateway: str) -> str:
        ref = f"{pid}-{seq}"
        if ref in self.attempts:
            raise ValueError(f"attempt reference {ref!r} exists (it is unique)")
        self.attempts[ref] = {"payment_id": pid, "seq": seq, "gateway": gateway,
                              "reference": ref, "outcome": "pending",
                              "error_class": None, "gateway_ref": None,
                              "at": self.clock.utc()}
        return ref

    def _finish_attempt(self, ref, outcome, gateway_ref, error_class) -> None:
        if ref in self.attempts:  # the ledger's UPDATE: an unknown ref changes nothing
            self.attempts[ref].update(outcome=outcome, gateway_ref=gateway_ref,
                                      error_class=error_class)

    # -- refunds (`refunded_minor` counts settled + reserved refunds) ---------------
    async def reserve_refund(self, payment_id: str, refund_id: str,
                             amount_minor: int) -> dict:
        """Check-and-add on a captured payment; the same id returns its first row."""
        if refund_id in self.refunds:
            return dict(self.refunds[refund_id])
        if amount_minor <= 0:
            raise InputError("amount_minor", amount_minor,
                             "a positive number of minor units")
        p = self.payments.get(payment_id)
        if p is None or p["status"] != "captured" or (
                p["refunded_minor"] + amount_minor > p["amount_minor"]):
            left = max(p["amount_minor"] - p["refunded_minor"], 0) if p else 0
            raise RefundRefused(payment_id, amount_minor, left,
                                p["status"] if p else "missing")
        with self._tx("reserve_refund", payment_id):
            p["refunded_minor"] += amount_minor
            self.refunds[refund_id] = {
                "refund_id": refund_id, "payment_id": payment_id,
                "amount_minor": amount_minor, "state": "pending", "gateway_ref": None,
                "created_at": self.clock.utc(), "finished_at": None}
        return dict(self.refunds[refund_id])

    async def finish_refund(self, refund_id: str, ok: bool | None,
                            gateway_ref: str | None = None, events=()) -> dict:
        """Keep (ok), give back (not ok) or leave pending (None) a pending refund; a
        settled one is left alone. The refund with the payment's total and status."""
        if refund_id not in self.refunds:
            raise UnknownRefund(refund_id)
        pid = self.refunds[refund_id]["payment_id"]
        with self._tx("finish_refund", pid, events):
            r = self.refunds[refund_id]
            if r["state"] == "pending":
                self._settle_refund(r, ok, gateway_ref or r["gateway_ref"])
        p = self.payments[pid]
        return {**self.refunds[refund_id], "refunded_minor": p["refunded_minor"],
                "payment_status": p["status"]}

    def _settle_refund(self, r: dict, ok: bool | None, gref: str | None) -> None:
        r["gateway_ref"] = gref
        if ok is None:
            return
        r.update(state="succeeded" if ok else "failed", finished_at=self.clock.utc())
        p = self.payments[r["payment_id"]]
        if not ok:
            p["refunded_minor"] -= r["amount_minor"]
            return
        pending = any(x["payment_id"] == p["id"] and x["state"] == "pending"
                      for x in self.refunds.values())
        full = p["refunded_minor"] == p["amount_minor"] and not pending
        p["status"] = "refunded" if full else p["status"]
        p["_history"].append(p["status"])  # captured -> captured for a partial one

    async def get_refund(self, refund_id: str) -> dict | None:
        r = self.refunds.get(refund_id)
        return dict(r) if r else None

    async def pending_refunds(self) -> list[dict]:
        return [dict(r) for r in self.refunds.values() if r["state"] == "pending"]

    # -- reads -------------------------------------------------------------------
    async def get(self, payment_id: str) -> dict | None:
        p = self.payments.get(payment_id)
        if p is None:
            return None
        out = {k: copy.deepcopy(v) for k, v in p.items() if k != "_history"}
        mine = sorted((a for a in self.attempts.values()
                       if a["payment_id"] == payment_id), key=lambda a: a["seq"])
        out["attempts"] = [{k: a[k] for k in _ATTEMPT_READ} for a in mine]
        out["history"] = list(p["_history"])
        return out

    async def in_limbo(self, min_age_s: float = 0.0) -> list[dict]:
        return [await self.get(pid) for pid, p in self.payments.items()
                if p["status"] in IN_FLIGHT and self._aged(p, min_age_s)]

    async def held_for_review(self, min_age_s: float | None = None,
                              limit: int = 100) -> list[dict]:
        held = sorted((p for p in self.payments.values() if p["status"] == "review"
                       and (min_age_s is None or self._aged(p, min_age_s))),
                      key=lambda p: p["updated_at"])
        return [await self.get(p["id"]) for p in held[:limit]]

    async def unrewarded(self, min_age_s: float = 0.0) -> list[dict]:
        return [await self.get(pid) for pid, p in self.payments.items()
                if p["status"] == "captured" and not p.get("reward")
                and self._aged(p, min_age_s)]

    def _aged(self, p: dict, min_age_s: float) -> bool:
        return not min_age_s or p["updated_at"] < self.clock.utc() - timedelta(
            seconds=min_age_s)

    async def payment_by_key(self, merchant_id: str, key: str) -> dict | None:
        """The payment created under this Idempotency-Key, with its attempts."""
        for pid, p in self.payments.items():
            if (p["merchant_id"], p["idem_key"]) == (merchant_id, key):
                return await self.get(pid)
        return None

    # -- idempotency keys ----------------------------------------------------------
    async def claim(self, merchant_id: str, key: str, request_hash: str,
                    lease_s: float = 30.0) -> Claim:
        row = self.keys.get((merchant_id, key))
        lease = self.clock.utc() + timedelta(seconds=lease_s)
        if row is None:
            self.keys[(merchant_id, key)] = {
                "request_hash": request_hash, "state": "in_progress",
                "status_code": None, "response": None, "lease_until": lease}
            return Claim("new", lease_until=lease)
        if row["request_hash"] != request_hash:
            return Claim("conflict")
        if row["state"] == "done":
            return Claim("replay", row["status_code"], row["response"])
        if row["lease_until"] < self.clock.utc():  # its holder died: take it over
            row["lease_until"] = lease
            return Claim("new", lease_until=lease)
        return Claim("in_progress")

    async def finish(self, merchant_id: str, key: str, status_code: int,
                     response: dict) -> None:
        row = self.keys.get((merchant_id, key))
        if row is not None:
            row.update(state="done", status_code=status_code,
                       response=json.loads(json.dumps(response)))

    async def release(self, merchant_id: str, key: str) -> None:
        if self.keys.get((merchant_id, key), {}).get("state") != "done":
            self.keys.pop((merchant_id, key), None)


def _check_columns(fields: dict, creating: bool = False) -> None:
    """The ledger's statements refuse a column the table does not have."""
    unknown = set(fields) - set(_COLUMNS)
    if unknown:
        raise TypeError(f"no payment column(s) {sorted(unknown)}")
    required = {c for c, nullable in _COLUMNS.items() if not nullable} - _SET_BY_STORE
    if creating and required - set(fields):
        raise TypeError(f"missing payment column(s) {sorted(required - set(fields))}")
