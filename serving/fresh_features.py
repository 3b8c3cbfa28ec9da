"""Fresh fraud features from live payments: the bus subscriber that pushes them.

A payment's `payment_created` event is written with the payment (the ledger's outbox)
and relayed after the commit; `handle` adds the payment to its customer's and
terminal's event logs and writes their recomputed windows to the Feast online store
(`features.fresh.write_rows`: the online half of a push to the push sources). A crash
or a failed write loses nothing: the bus retries the event, then parks it with the
dead letters for a replay. A repeat counts nothing twice: the logs keep each payment
id once, and the pushed windows are recomputed from them.

Windows also change with time alone (a payment leaves the one-day window a day
later): `slide`, called before a payment is scored, pushes the windows as of the
payment's instant where they differ from the last push, so the model scores it with
the offline build's values. Each process remembers, for a bounded set of entities
(`SLID_MAX`, each for `SLID_TTL_S`), the windows its own slide last stored and the log
state they came from (newest event, event count): while the log is unchanged and the
windows as of the new instant have the same values, the row stored already holds them
and nothing is written. A payment logged by any process changes the event count and so
ends that memory; the TTL bounds how long a row written by someone else (a
`materialize`, another process's slide of a delayed terminal window) can go unseen.

The logs are async (redis.asyncio, aiosqlite). Feast's online write is synchronous, so
it runs in one worker thread of this object's own: at most one write in flight per
process, never on the event loop. Writes are group-committed: rows that arrive while
a write is in flight go together in the next one (one transaction for many payments,
an entity written several times keeping its newest row), and each caller waits for the
write that carries its rows, so a payment is still scored after its slide is stored.
One payment per write had capped /fraud near 113 answers a second on the SQLite
online store (README, "Fresh fraud features").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from features.event_log import EventLog
from features.fresh import (CUSTOMER_PUSH, TERMINAL_PUSH, Payment, customer_row,
                            terminal_row, feature_views_of, write_rows)
from serving import observability as obs
from serving.events import Event

log = logging.getLogger("smartpay.fresh_features")
EVENT = "payment_created"
RECHECK_S = 60.0
SLID_MAX = 100_000
SLID_TTL_S = 60.0
ENTITY_KEY = {CUSTOMER_PUSH: "customer_id", TERMINAL_PUSH: "terminal_id"}
Pushes = list[tuple[str, list[dict]]]


def merge(batches: list[Pushes]) -> Pushes:
    """Several callers' pushes as one per source, each entity once with its newest row
    (the largest event timestamp: a later instant, or more logged events)."""
    newest: dict[str, dict] = {}
    for pushes in batches:
        for source, rows in pushes:
            key, keep = ENTITY_KEY[source], newest.setdefault(source, {})
            for row in rows:
                old = keep.get(row[key])
                if old is None or row["event_timestamp"] >= old["event_timestamp"]:
                    keep[row[key]] = row
    return [(source, list(rows.values())) for source, rows in newest.items()]


def payment_of(event: Event) -> Payment:
    """The window contribution an event announces."""
    d = event.data
    return Payment(payment_id=str(event.payment_id), customer_id=int(d["customer_id"]),
                   terminal_id=int(d["terminal_id"]),
                   amount_minor=int(d["amount_minor"]), epoch_s=int(d["tx_epoch_s"]))


class FreshFeatures:
    """Subscribed to the bus as `fresh_features`; `open_store` is called once, in the
    worker thread, at the first push."""

    def __init__(self, events: EventLog, open_store: Callable[[], Any]) -> None:
        self.events, self._open_store = events, open_store
        self._store, self._views = None, {}
        self._retry_at = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feast-push")
        self._queue: list[tuple[Pushes, asyncio.Future]] = []
        self._flushing: asyncio.Task | None = None
        self.pushed = 0
        self.writes = 0  # online-store writes (each one group of callers' rows)
        # (kind, entity id) -> (newest event, event count, counts, sums, when), of the
        # windows this process's slides last stored; oldest first
        self._slid: OrderedDict[tuple[str, int], tuple] = OrderedDict()
        self.slides_skipped = 0

    async def handle(self, event: Event) -> None:
        if event.type != EVENT or not await self._ready():
            return
        p = payment_of(event)
        t0 = time.perf_counter()
        cust = await self.events.add("customer", p.customer_id, p.payment_id, p.epoch_s,
                                     p.amount_minor)
        term = await self.events.add("terminal", p.terminal_id, p.payment_id, p.epoch_s,
                                     p.amount_minor)
        pushes = [(CUSTOMER_PUSH, [customer_row(p.customer_id, cust)]),
                  (TERMINAL_PUSH, [terminal_row(p.terminal_id, term)])]
        await self._write(pushes)
        obs.FRESH_FEATURES_S.observe(time.perf_counter() - t0)
        self.pushed += 1

    async def slide(self, customer_id: int, terminal_id: int, epoch_s: int) -> int:
        """Before a payment at `epoch_s` is scored: push its customer's and terminal's
        windows as of that instant where they differ from the last push (a payment
        left a window, or entered a terminal's delayed one, since), and zeros for an
        entity never logged (offline, a first transaction sees counts of 0). How many
        rows were pushed; an instant before the entity's newest payment pushes none."""
        if not await self._ready():
            return 0
        pushes, slid = [], []
        for kind, eid, source, row in (
                ("customer", customer_id, CUSTOMER_PUSH, customer_row),
                ("terminal", terminal_id, TERMINAL_PUSH, terminal_row)):
            now, last = await self.events.at(kind, eid, epoch_s)
            if last is None or (now.instant_s > last.instant_s
                                and not now.same_values(last)):
                if self._stored_already((kind, eid), now):
                    self.slides_skipped += 1
                    continue
                pushes.append((source, [row(eid, now)]))
                slid.append(((kind, eid), now))
        if pushes:
            await self._write(pushes)
            self._remember(slid)
        return len(pushes)

    def _stored_already(self, key: tuple[str, int], now) -> bool:
        """True if this process's last slide of `key` stored these window values from
        the same log state, less than SLID_TTL_S ago."""
        seen = self._slid.get(key)
        if seen is None:
            return False
        if time.monotonic() - seen[4] > SLID_TTL_S:
            del self._slid[key]
            return False
        return seen[:4] == (now.latest_s, now.n_events, now.counts, now.sums_minor)

    def _remember(self, slid: list) -> None:
        at = time.monotonic()
        for key, w in slid:
            self._slid[key] = (w.latest_s, w.n_events, w.counts, w.sums_minor, at)
            self._slid.move_to_end(key)
        while len(self._slid) > SLID_MAX:
            self._slid.popitem(last=False)

    async def _write(self, pushes: Pushes) -> None:
        """Queue these rows and wait until a write has stored them (or raise its
        error). The first caller with no write in flight starts the flusher."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((pushes, done))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        await done

    async def _flush(self) -> None:
        """Write whatever is queued, one group at a time, until the queue is empty."""
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                group, self._queue = self._queue, []
                try:
                    await loop.run_in_executor(self._pool, self._push,
                                               merge([p for p, _ in group]))
                except Exception as exc:  # every caller of this group sees it
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    self.writes += 1
                    for _, done in group:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._flushing = None

    async def warm(self) -> bool:
        """Open the Feast store now (at start-up) rather than on the first payment's
        path; False, with a warning, while the registry lacks the push sources or
        cannot be reached (the first payment tries again)."""
        try:
            return await self._ready()
        except Exception as exc:  # noqa: BLE001 - the API serves without it
            log.warning("fresh fraud features: the Feast store did not open: %s", exc)
            self._retry_at = 0.0
            return False

    async def _ready(self) -> bool:
        """True once the Feast registry has the push sources. Until then (no `smartpay
        features apply` yet: nothing online to refresh) payments are not logged, and
        the registry is looked at again every RECHECK_S."""
        if self._store is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        self._retry_at = time.monotonic() + RECHECK_S
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._open)

    def _open(self) -> bool:
        store = self._open_store()
        views = {source: feature_views_of(store, source) for source in (CUSTOMER_PUSH,
                                                               TERMINAL_PUSH)}
        missing = [source for source, names in views.items() if not names]
        if missing:
            log.warning("fresh fraud features are off until `smartpay features apply` "
                        "registers views fed by %s", ", ".join(missing))
            return False
        self._store, self._views = store, views
        return True

    def _push(self, pushes: list[tuple[str, list[dict]]]) -> None:
        for source, rows in pushes:
            write_rows(self._store, self._views[source], rows)

    async def aclose(self) -> None:
        """Close the event log and stop the worker (queued pushes are written first)."""
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self.events.aclose()
        self._pool.shutdown(wait=True)
