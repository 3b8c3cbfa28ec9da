"""The transactional outbox: events are rows written in the same transaction as the
state change they announce, and a relay publishes them afterwards.

A crash between the commit and the publication loses nothing: the row is still
unpublished and the next relay sends it. A crash between publishing and marking sends
it again (at-least-once), which is why consumers dedupe by event id.

A relay claims the rows it will publish with one conditional update (a lease in
`claimed_until`), publishes them with no transaction open, then marks them: two relays
never take the same row, and a relay that died leaves its rows to the next one once
the lease has expired.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Row, bindparam, func, or_, select

from serving.ledger.tables import OutboxEvent, utcnow
from smartpay.db import SyncRunner

log = logging.getLogger("smartpay.outbox")
Publish = Callable[[dict], Awaitable[None]]


class EventLike(Protocol):
    """What the ledger needs of an event (`serving.events.Event` is one)."""

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


def write(conn: Connection, events: Iterable[EventLike]) -> int:
    """Insert the events in the caller's transaction; how many were written."""
    rows = [_row_of(e.model_dump(mode="json")) for e in events]
    if rows:
        conn.execute(_INSERT, rows)
    return len(rows)


def requeue(conn: Connection, payloads: Iterable[dict]) -> None:
    """Make events unpublished again, keeping their ids (inserted if pruned)."""
    for payload in payloads:
        if conn.execute(_UNPUBLISH, {"eid": payload["id"]}).rowcount == 0:
            conn.execute(_INSERT, [_row_of(payload)])


class Outbox:
    """The relay's side of the outbox: claim unpublished rows, publish, mark them."""

    def __init__(self, runner: SyncRunner, claim_s: float = 10.0) -> None:
        # a batch goes out in milliseconds, so a claim far outlives it; a relay that
        # died holds its rows no longer than restarting the process takes
        self._runner, self.claim_s = runner, claim_s

    async def relay_batch(self, publish: Publish, limit: int = 200) -> int:
        """Publish up to `limit` unclaimed, unpublished events in id order; how many
        went out.

        The rows are claimed for `claim_s` first, so another relay (of this process or
        another) skips them. A publish that raises ends the batch: what went out before
        it is marked, the rest is released for the next batch. If the task is cancelled
        mid-batch nothing is marked, all is released and sent again; if the process
        dies, its claims expire after `claim_s` and all is sent again then.
        """
        rows = await self._runner.run(_claim, limit, self.claim_s)
        done: list[int] = []
        try:
            await _publish_each(rows, publish, done)
        except asyncio.CancelledError:
            done.clear()  # as a crash would: nothing is marked, all is sent again
            raise
        finally:
            if rows:
                await self._settle([r.id for r in rows], done)
        return len(done)

    async def unpublished(self) -> int:
        """How many events wait for a relay (claimed or not)."""
        return await self._runner.run(_count_unpublished)

    async def _settle(self, claimed: list[int], done: list[int]) -> None:
        # shielded: a cancelled relay still marks what it sent and releases the rest
        try:
            await asyncio.shield(self._runner.run(_mark, claimed, done))
        except Exception as exc:  # noqa: BLE001 - the claims expire: sent again later
            log.warning("outbox: marking %d events failed: %s", len(done), exc)


def _claim(conn: Connection, limit: int, claim_s: float) -> list[Row]:
    now = utcnow()
    rows = conn.execute(_CLAIM, {"n": limit, "now": now,
                                 "until": now + timedelta(seconds=claim_s)}).all()
    return sorted(rows, key=lambda r: r.id)  # RETURNING promises no order


def _mark(conn: Connection, claimed: list[int], done: list[int]) -> None:
    if done:
        conn.execute(_MARK, {"ids": done, "at": utcnow()})
    rest = sorted(set(claimed) - set(done))
    if rest:
        conn.execute(_RELEASE, {"ids": rest})


def _count_unpublished(conn: Connection) -> int:
    return conn.execute(_COUNT_UNPUBLISHED).scalar_one()


async def _publish_each(rows: Sequence[Row], publish: Publish, done: list[int]) -> None:
    for row in rows:
        try:
            await publish(row.payload)
        except Exception as exc:  # noqa: BLE001 - bus down: the rest waits for later
            log.warning("outbox: publishing event %s failed: %s", row.event_id, exc)
            return
        done.append(row.id)


def _row_of(payload: dict) -> dict:
    """An outbox row of an event's JSON form; the payload is the whole event."""
    return {"event_id": payload["id"], "type": payload["type"],
            "merchant_id": payload["merchant_id"],
            "payment_id": payload.get("payment_id"), "payload": payload,
            "created_at": utcnow(), "published_at": None}


_O = OutboxEvent.__table__
_INSERT = _O.insert()
_CLAIMABLE = (_O.c.published_at.is_(None),
              or_(_O.c.claimed_until.is_(None), _O.c.claimed_until < bindparam("now")))
# SKIP LOCKED: a row another relay is claiming right now is passed over, not waited
# for. MATERIALIZED: PostgreSQL would otherwise re-run a subquery per row updated, and
# each rerun skips the rows this statement just claimed and finds the next ones (the
# LIMIT would not hold); the outer condition re-checks a row that changed meanwhile.
_NEXT = (select(_O.c.id).where(*_CLAIMABLE).order_by(_O.c.id).limit(bindparam("n"))
         .with_for_update(skip_locked=True)
         .cte("next_rows").prefix_with("MATERIALIZED", dialect="postgresql"))
_CLAIM = (_O.update().where(_O.c.id.in_(select(_NEXT.c.id)), *_CLAIMABLE)
          .values(claimed_until=bindparam("until"))
          .returning(_O.c.id, _O.c.event_id, _O.c.payload))
_IDS = _O.c.id.in_(bindparam("ids", expanding=True))
_MARK = _O.update().where(_IDS).values(published_at=bindparam("at"), claimed_until=None)
_RELEASE = _O.update().where(_IDS).values(claimed_until=None)
_UNPUBLISH = _O.update().where(_O.c.event_id == bindparam("eid")).values(
    published_at=None, claimed_until=None)
_COUNT_UNPUBLISHED = select(func.count()).select_from(_O).where(
    _O.c.published_at.is_(None))
