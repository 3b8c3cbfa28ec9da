"""The fresh-feature event logs (Redis Lua script, SQLite transaction) compute the
windows of `features.windows` exactly, count each payment once, and agree."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest

from features.event_log import RedisEventLog, SqliteEventLog
from features.windows import DAY_S, LABEL_DELAY_DAYS, WINDOWS_DAYS

T0 = 1_795_000_000


def _brute(events: list[tuple[int, int]], kind: str, instant: int):
    """Counts and sums per window, straight from the definitions (offline nodes)."""
    counts, sums = [], []
    d = LABEL_DELAY_DAYS * DAY_S if kind == "terminal" else 0
    for w in WINDOWS_DAYS:
        lo, hi = instant - d - w * DAY_S, instant - d
        inside = [a for t, a in events
                  if lo < t and (t <= hi if kind == "terminal" else t < hi)]
        counts.append(len(inside))
        sums.append(sum(inside))
    return tuple(counts), tuple(sums)


def _history(seed: int, n: int = 120) -> list[tuple[str, int, int]]:
    """(payment id, epoch s, amount) over 60 days, mostly in time order."""
    rng = np.random.default_rng(seed)
    t = np.sort(T0 + rng.integers(0, 60 * DAY_S, n))
    swap = rng.integers(1, n, 10)  # a few late arrivals
    t[swap - 1], t[swap] = t[swap], t[swap - 1]
    return [(f"p{i}", int(s), int(a)) for i, (s, a) in
            enumerate(zip(t, rng.integers(100, 50_000, n)))]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.prod)])
def event_log(request, tmp_path, prod_server):
    if request.param == "sqlite":
        log = SqliteEventLog(tmp_path / "fresh_events.db")
        yield log
        asyncio.run(log.aclose())
        return
    prod_server("redis")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    yield RedisEventLog("redis://127.0.0.1:6379/15", prefix)

    async def cleanup():
        import redis.asyncio as aioredis

        r = aioredis.from_url("redis://127.0.0.1:6379/15")
        keys = [k async for k in r.scan_iter(f"{prefix}:*")]
        if keys:
            await r.delete(*keys)
        await r.aclose()

    asyncio.run(cleanup())


@pytest.mark.parametrize("kind", ["customer", "terminal"])
def test_each_add_returns_the_windows_of_the_second_after_the_newest_payment(
        event_log, kind):
    async def run():
        seen = []
        for pid, t, amount in _history(seed=1):
            got = await event_log.add(kind, 7, pid, t, amount)
            seen.append((t, amount))
            newest = max(s for s, _ in seen)
            assert got.latest_s == newest and got.instant_s == newest + 1
            assert (got.counts, got.sums_minor) == _brute(seen, kind, newest + 1), pid
        await event_log.aclose()

    asyncio.run(run())


def test_a_payment_added_twice_counts_once(event_log):
    async def run():
        first = await event_log.add("customer", 1, "p1", T0, 1_000)
        again = await event_log.add("customer", 1, "p1", T0, 1_000)
        assert first == again and first.counts == (1, 1, 1)
        await event_log.aclose()

    asyncio.run(run())


def test_windows_at_a_later_instant_drop_what_left_them_and_keep_the_last_push(
        event_log):
    async def run():
        history = _history(seed=2)
        for pid, t, amount in history:
            await event_log.add("terminal", 3, pid, t, amount)
        seen = [(t, a) for _, t, a in history]
        newest = max(t for t, _ in seen)
        later = newest + 3 * DAY_S + 17
        now, last = await event_log.at("terminal", 3, later)
        assert (now.counts, now.sums_minor) == _brute(seen, "terminal", later)
        assert (last.counts, last.sums_minor) == _brute(seen, "terminal", newest + 1)
        none, unseen = await event_log.at("customer", 99, later)
        assert unseen is None and none.counts == (0, 0, 0)
        await event_log.aclose()

    asyncio.run(run())
