"""The durable dead-letter queue: events a subscriber failed to handle after retries.

Requeueing puts an event back into the outbox under its own id, in the transaction that
removes it from here: the relay publishes it again, the handlers that already had it
drop it as a duplicate and the one that failed gets another chance.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, bindparam, select

from serving.ledger import outbox
from serving.ledger.outbox import EventLike
from serving.ledger.tables import DeadLetter, utcnow
from smartpay.db import SyncRunner

_MAX_ERROR = 2_000


class DeadLetters:
    """Parked (event, handler, error) entries, listed, requeued or dropped by id."""

    def __init__(self, runner: SyncRunner, notify: Callable[[], None]) -> None:
        self._runner, self._notify = runner, notify

    async def park(self, event: EventLike, handler: str, error: str) -> str:
        """Keep an event a handler gave up on; returns the entry id."""
        entry_id = uuid.uuid4().hex
        payload = event.model_dump(mode="json")
        await self._runner.run(_park, {
            "entry_id": entry_id, "event_id": payload["id"], "handler": handler,
            "event": payload, "error": error[:_MAX_ERROR], "parked_at": utcnow()})
        return entry_id

    async def list(self) -> list[dict]:
        """Every parked entry, oldest first."""
        return await self._runner.run(_list)

    async def requeue(self, entry_ids: Sequence[str] | None = None) -> int:
        """Move entries (all when None) back into the outbox in one transaction;
        how many entries left the queue."""
        moved = await self._runner.run(_requeue, entry_ids)
        if moved:
            self._notify()
        return moved

    async def drop(self, entry_id: str) -> bool:
        """Forget one entry without delivering it; False if there was none."""
        return await self._runner.run(_drop, entry_id)


def _park(conn: Connection, row: dict) -> None:
    conn.execute(_INSERT, row)


def _list(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(_ALL).mappings()]


def _requeue(conn: Connection, entry_ids: Sequence[str] | None) -> int:
    query = _ALL if entry_ids is None else _SOME
    params = {} if entry_ids is None else {"ids": list(entry_ids)}
    rows = conn.execute(query.with_for_update(), params).mappings().all()
    if not rows:
        return 0
    events = {r["event_id"]: r["event"] for r in rows}  # one row per event
    outbox.requeue(conn, events.values())
    conn.execute(_DELETE, {"ids": [r["entry_id"] for r in rows]})
    return len(rows)


def _drop(conn: Connection, entry_id: str) -> bool:
    return conn.execute(_DELETE, {"ids": [entry_id]}).rowcount == 1


_D = DeadLetter.__table__
_INSERT = _D.insert()
_ALL = select(_D).order_by(_D.c.parked_at, _D.c.entry_id)
_SOME = _ALL.where(_D.c.entry_id.in_(bindparam("ids", expanding=True)))
_DELETE = _D.delete().where(_D.c.entry_id.in_(bindparam("ids", expanding=True)))
