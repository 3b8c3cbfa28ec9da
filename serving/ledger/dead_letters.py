"""The durable dead-letter queue: events a subscriber failed to handle after retries.

Requeueing puts an event back into the outbox under its own id, in the transaction that
removes it from here: the relay publishes it again, the handlers that already had it
drop it as a duplicate and the one that failed gets another chance.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from serving.ledger import outbox
from serving.ledger.outbox import EventLike
from serving.ledger.tables import DeadLetter, utcnow

_MAX_ERROR = 2_000


class DeadLetters:
    """Parked (event, handler, error) entries, listed, requeued or dropped by id."""

    def __init__(self, engine: AsyncEngine, notify: Callable[[], None]) -> None:
        self.engine, self._notify = engine, notify

    async def park(self, event: EventLike, handler: str, error: str) -> str:
        """Keep an event a handler gave up on; returns the entry id."""
        entry_id = uuid.uuid4().hex
        payload = event.model_dump(mode="json")
        async with self.engine.begin() as c:
            await c.execute(_INSERT, {
                "entry_id": entry_id, "event_id": payload["id"], "handler": handler,
                "event": payload, "error": error[:_MAX_ERROR], "parked_at": utcnow()})
        return entry_id

    async def list(self) -> list[dict]:
        """Every parked entry, oldest first."""
        async with self.engine.connect() as c:
            rows = (await c.execute(_ALL)).mappings().all()
        return [dict(r) for r in rows]

    async def requeue(self, entry_ids: Sequence[str] | None = None) -> int:
        """Move entries (all when None) back into the outbox in one transaction;
        how many entries left the queue."""
        query = _ALL if entry_ids is None else _SOME
        params = {} if entry_ids is None else {"ids": list(entry_ids)}
        async with self.engine.begin() as c:
            rows = (await c.execute(query.with_for_update(), params)).mappings().all()
            if not rows:
                return 0
            events = {r["event_id"]: r["event"] for r in rows}  # one row per event
            await outbox.requeue(c, events.values())
            await c.execute(_DELETE, {"ids": [r["entry_id"] for r in rows]})
        self._notify()
        return len(rows)

    async def drop(self, entry_id: str) -> bool:
        """Forget one entry without delivering it; False if there was none."""
        async with self.engine.begin() as c:
            gone = await c.execute(_DELETE, {"ids": [entry_id]})
        return gone.rowcount == 1


_D = DeadLetter.__table__
_INSERT = _D.insert()
_ALL = select(_D).order_by(_D.c.parked_at, _D.c.entry_id)
_SOME = _ALL.where(_D.c.entry_id.in_(bindparam("ids", expanding=True)))
_DELETE = _D.delete().where(_D.c.entry_id.in_(bindparam("ids", expanding=True)))
