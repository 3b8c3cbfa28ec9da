"""The transactional outbox: events are rows written in the same transaction as the
state change they announce, and a relay publishes them afterwards.

A crash between the commit and the publication loses nothing: the row is still
unpublished and the next relay sends it. A crash between publishing and marking sends
it again (at-least-once), which is why consumers dedupe by event id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from serving.ledger.tables import OutboxEvent, utcnow

log = logging.getLogger("smartpay.outbox")
Publish = Callable[[dict], Awaitable[None]]


class EventLike(Protocol):
    """What the ledger needs of an event (`serving.events.Event` is one)."""

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


async def write(conn: AsyncConnection, events: Iterable[EventLike]) -> int:
    """Insert the events in the caller's transaction; how many were written."""
    rows = [_row_of(e.model_dump(mode="json")) for e in events]
    if rows:
        await conn.execute(_INSERT, rows)
    return len(rows)


async def requeue(conn: AsyncConnection, payloads: Iterable[dict]) -> None:
    """Make events unpublished again, keeping their ids (inserted if pruned)."""
    for payload in payloads:
        again = await conn.execute(_UNPUBLISH, {"eid": payload["id"]})
        if again.rowcount == 0:
            await conn.execute(_INSERT, [_row_of(payload)])


class Outbox:
    """The relay's side of the outbox: take unpublished rows, publish, mark them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def relay_batch(self, publish: Publish, limit: int = 200) -> int:
        """Publish up to `limit` unpublished events in id order; how many went out.

        On PostgreSQL the rows stay locked (FOR UPDATE SKIP LOCKED) until they are
        marked, so two relays never take the same row. A publish that raises ends the
        batch: what went out before it is marked, the rest waits for the next batch.
        If the task is cancelled mid-batch nothing is marked and all is sent again.
        """
        async with self.engine.begin() as c:
            rows = (await c.execute(_TAKE, {"n": limit})).all()
            done = await _publish_each(rows, publish)
            if done:
                await c.execute(_MARK, {"ids": done, "at": utcnow()})
        return len(done)

    async def unpublished(self) -> int:
        """How many events wait for the relay."""
        async with self.engine.connect() as c:
            return (await c.execute(_COUNT_UNPUBLISHED)).scalar_one()


async def _publish_each(rows, publish: Publish) -> list[int]:
    done: list[int] = []
    for row in rows:
        try:
            await publish(row.payload)
        except Exception as exc:  # noqa: BLE001 - bus down: the rest waits for later
            log.warning("outbox: publishing event %s failed: %s", row.event_id, exc)
            break
        done.append(row.id)
    return done


def _row_of(payload: dict) -> dict:
    """An outbox row of an event's JSON form; the payload is the whole event."""
    return {"event_id": payload["id"], "type": payload["type"],
            "merchant_id": payload["merchant_id"],
            "payment_id": payload.get("payment_id"), "payload": payload,
            "created_at": utcnow(), "published_at": None}


_O = OutboxEvent.__table__
_INSERT = _O.insert()
_TAKE = (select(_O.c.id, _O.c.event_id, _O.c.payload)
         .where(_O.c.published_at.is_(None)).order_by(_O.c.id).limit(bindparam("n"))
         .with_for_update(skip_locked=True))
_MARK = _O.update().where(_O.c.id.in_(bindparam("ids", expanding=True))).values(
    published_at=bindparam("at"))
_UNPUBLISH = _O.update().where(_O.c.event_id == bindparam("eid")).values(
    published_at=None)
_COUNT_UNPUBLISHED = select(func.count()).select_from(_O).where(
    _O.c.published_at.is_(None))
