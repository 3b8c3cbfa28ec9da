"""The recent payments of each customer and terminal, from which fresh features are
computed: a sorted set per entity in the online store's Redis (prod), a table in a
SQLite file beside the online store (local).

`add` is the one online operation: record a payment (once per payment id: a repeat
changes nothing), drop what has left the widest window, and return the windows as of
the second after the entity's newest payment, all atomically per entity (one Lua
script; one SQLite write transaction). `seed` bulk-loads past payments, for
`smartpay features materialize`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from features.fresh import RETENTION_S, WINDOWS, Windows
from smartpay.settings import Settings

# (kind, entity id, payment id, epoch seconds, amount in minor units)
Row = tuple[str, int, str, int, int]


class EventLog(Protocol):
    async def add(self, kind: str, entity_id: int, payment_id: str, epoch_s: int,
                  amount_minor: int) -> Windows: ...
    async def at(self, kind: str, entity_id: int, instant_s: int
                 ) -> tuple[Windows, Windows | None]: ...
    async def aclose(self) -> None: ...


def _windows(instant: int, latest: int, n: int, flat: Iterable[int]) -> Windows:
    flat = [int(v or 0) for v in flat]
    return Windows(int(instant), int(latest), int(n), tuple(flat[0::2]),
                   tuple(flat[1::2]))


def _pair(instant_s: int, out: list, n_windows: int) -> tuple[Windows, Windows | None]:
    """`at`'s answer from [latest or -1, n, sums at the instant, sums at latest+1]."""
    latest, n, flat = int(out[0]), int(out[1]), list(out[2:])
    if latest < 0:
        return _windows(instant_s, -1, 0, [0] * 2 * n_windows), None
    k = 2 * n_windows
    return (_windows(instant_s, latest, n, flat[:k]),
            _windows(latest + 1, latest, n, flat[k:]))


# KEYS[1]: the entity's sorted set (score: epoch s; member: "payment id|amount").
# ARGV: payment id, epoch s, amount, retention s, then (lo, hi) of each window.
# Shared by both scripts: append (count, amount sum) of each window (lo, hi) in
# ARGV[first..] at instant `now` to `out`.
_WINDOWS = """
local function windows(key, now, first, out)
  for i = first, #ARGV, 2 do
    local members = redis.call('ZRANGEBYSCORE', key, now - tonumber(ARGV[i]),
                               '(' .. (now - tonumber(ARGV[i + 1])))
    local total = 0
    for _, m in ipairs(members) do
      total = total + tonumber(string.match(m, '|(-?%d+)$'))
    end
    out[#out + 1] = #members
    out[#out + 1] = total
  end
end
"""
_ADD = _WINDOWS + """
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1] .. '|' .. ARGV[3])
local latest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
local now = latest + 1
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[4])))
redis.call('EXPIRE', KEYS[1], ARGV[4])
local out = {latest, redis.call('ZCARD', KEYS[1])}
windows(KEYS[1], now, 5, out)
return out
"""


def _key(prefix: str, kind: str, entity_id: int) -> str:
    return f"{prefix}:fresh:{kind}:{int(entity_id)}"


# Read only. KEYS[1] as above; ARGV: the instant, then (lo, hi) of each window. Returns
# the newest event time (-1: none), the count, the sums at the instant, then at
# newest+1.
_AT = _WINDOWS + """
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #newest == 0 then return {-1, 0} end
local latest = tonumber(newest[2])
local out = {latest, redis.call('ZCARD', KEYS[1])}
for _, now in ipairs({tonumber(ARGV[1]), latest + 1}) do
  windows(KEYS[1], now, 2, out)
end
return out
"""


class RedisEventLog:
    """Sorted sets `<prefix>:fresh:<kind>:<id>` in Redis, through the async client."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio as aioredis

        self._r = aioredis.from_url(url)
        self._add = self._r.register_script(_ADD)
        self._at = self._r.register_script(_AT)
        self.prefix = prefix

    async def add(self, kind: str, entity_id: int, payment_id: str, epoch_s: int,
                  amount_minor: int) -> Windows:
        offsets = [v for pair in WINDOWS[kind] for v in pair]
        out = await self._add(keys=[_key(self.prefix, kind, entity_id)], args=[
            payment_id, int(epoch_s), int(amount_minor), RETENTION_S[kind], *offsets])
        return _windows(int(out[0]) + 1, out[0], out[1], out[2:])

    async def at(self, kind: str, entity_id: int, instant_s: int
                 ) -> tuple[Windows, Windows | None]:
        """The windows as of `instant_s` and, if any payment is logged, as of the
        second after the newest (what its last push wrote); changes nothing."""
        offsets = [v for pair in WINDOWS[kind] for v in pair]
        out = await self._at(keys=[_key(self.prefix, kind, entity_id)],
                             args=[int(instant_s), *offsets])
        return _pair(int(instant_s), out, len(WINDOWS[kind]))

    async def aclose(self) -> None:
        await self._r.aclose()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS fresh_events (
  kind TEXT NOT NULL, entity_id INTEGER NOT NULL, payment_id TEXT NOT NULL,
  t INTEGER NOT NULL, amount_minor INTEGER NOT NULL,
  PRIMARY KEY (kind, entity_id, payment_id));
CREATE INDEX IF NOT EXISTS fresh_events_by_time ON fresh_events (kind, entity_id, t);
"""
_INSERT = "INSERT OR IGNORE INTO fresh_events VALUES (?, ?, ?, ?, ?)"
_WHERE = "WHERE kind = ? AND entity_id = ?"


def _aggregate_sql(n_windows: int) -> str:
    """Events kept, then per window its count and amount sum; parameters: kind,
    entity id, then the (lo, hi) bounds of each window."""
    cols = []
    for i in range(n_windows):
        inside = f"t >= ?{3 + 2 * i} AND t < ?{4 + 2 * i}"
        cols += [f"COALESCE(SUM({inside}), 0)",
                 f"COALESCE(SUM(CASE WHEN {inside} THEN amount_minor END), 0)"]
    return (f"SELECT COUNT(*), {', '.join(cols)} FROM fresh_events "
            "WHERE kind = ?1 AND entity_id = ?2")


class SqliteEventLog:
    """A `fresh_events` table in a SQLite file, through aiosqlite (its own thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = None
        self._lock = asyncio.Lock()  # one transaction at a time on the connection

    async def _conn(self):
        if self._db is None:
            import aiosqlite

            db = await aiosqlite.connect(self.path, isolation_level=None, timeout=30)
            await db.execute("PRAGMA journal_mode=WAL")
            # a commit survives the process, not a power cut: the log is rebuilt from
            # the raw transactions by `materialize`
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def add(self, kind: str, entity_id: int, payment_id: str, epoch_s: int,
                  amount_minor: int) -> Windows:
        async with self._lock:
            db = await self._conn()
            await db.execute("BEGIN IMMEDIATE")
            try:
                out = await self._add(db, kind, int(entity_id), payment_id,
                                      int(epoch_s), int(amount_minor))
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
            return out

    @staticmethod
    async def _add(db, kind, entity_id, payment_id, epoch_s, amount_minor) -> Windows:
        await db.execute(_INSERT, (kind, entity_id, payment_id, epoch_s, amount_minor))
        async with db.execute(f"SELECT MAX(t) FROM fresh_events {_WHERE}",
                              (kind, entity_id)) as cur:
            latest = (await cur.fetchone())[0]
        now = latest + 1
        await db.execute(f"DELETE FROM fresh_events {_WHERE} AND t < ?",
                         (kind, entity_id, now - RETENTION_S[kind]))
        bounds = [now - v for pair in WINDOWS[kind] for v in pair]
        async with db.execute(_aggregate_sql(len(WINDOWS[kind])),
                              (kind, entity_id, *bounds)) as cur:
            row = await cur.fetchone()
        return _windows(now, latest, row[0], row[1:])

    async def at(self, kind: str, entity_id: int, instant_s: int
                 ) -> tuple[Windows, Windows | None]:
        """The windows as of `instant_s` and, if any payment is logged, as of the
        second after the newest (what its last push wrote); changes nothing."""
        async with self._lock:
            db = await self._conn()
            async with db.execute(f"SELECT MAX(t) FROM fresh_events {_WHERE}",
                                  (kind, int(entity_id))) as cur:
                latest = (await cur.fetchone())[0]
            out = [-1 if latest is None else latest]
            for now in (int(instant_s), None if latest is None else latest + 1):
                if now is None:
                    break
                bounds = [now - v for pair in WINDOWS[kind] for v in pair]
                async with db.execute(_aggregate_sql(len(WINDOWS[kind])),
                                      (kind, int(entity_id), *bounds)) as cur:
                    row = await cur.fetchone()
                out = [*out, row[0], *row[1:]] if len(out) == 1 else [*out, *row[1:]]
        return _pair(int(instant_s), out, len(WINDOWS[kind]))

    async def aclose(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


def uses_redis(settings: Settings) -> bool:
    """The event log lives where the online store does."""
    from features.store import online_store_type

    return online_store_type(settings) == "redis"


def open_event_log(settings: Settings) -> EventLog:
    """The profile's event log (nothing is connected until its first `add`)."""
    if uses_redis(settings):
        return RedisEventLog(settings.redis_url, settings.serving.redis_prefix)
    settings.paths.fresh_events_db.parent.mkdir(parents=True, exist_ok=True)
    return SqliteEventLog(settings.paths.fresh_events_db)


def seed(settings: Settings, rows: Iterable[Row], chunk: int = 10_000) -> int:
    """Bulk-load past payments (blocking; for the CLI); how many rows were given.
    Idempotent like `add`; what left the windows goes with each entity's next add."""
    rows = list(rows)
    if uses_redis(settings):
        import redis

        prefix = settings.serving.redis_prefix
        client = redis.Redis.from_url(settings.redis_url)
        try:
            for i in range(0, len(rows), chunk):
                pipe = client.pipeline(transaction=False)
                for kind, eid, pid, t, amount in rows[i:i + chunk]:
                    key = _key(prefix, kind, eid)
                    pipe.zadd(key, {f"{pid}|{int(amount)}": int(t)}, nx=True)
                    pipe.expire(key, RETENTION_S[kind])
                pipe.execute()
        finally:
            client.close()
        return len(rows)
    path = settings.paths.fresh_events_db
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        with db:
            db.executescript(_SCHEMA)
            db.executemany(_INSERT, [(k, int(e), str(p), int(t), int(a))
                                     for k, e, p, t, a in rows])
    finally:
        db.close()
    return len(rows)
