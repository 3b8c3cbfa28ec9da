"""Group commit of fresh-feature pushes: many callers, few online-store writes, every
caller released only once its rows are stored, an entity's newest row kept."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from features.fresh import CUSTOMER_PUSH, TERMINAL_PUSH
from serving.fresh_features import FreshFeatures, merge

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _row(key: str, eid: int, s: int, n: int) -> dict:
    return {key: eid, "event_timestamp": T0 + timedelta(seconds=s), "n": n}


class _Recorder:
    """Stands where the Feast write goes: keeps what each write carried, slowly, in the
    worker thread (a real write costs ~8 ms on SQLite)."""

    def __init__(self, fail_first: bool = False) -> None:
        self.writes: list[list] = []
        self.threads: set[str] = set()
        self.fail_first = fail_first

    def __call__(self, pushes) -> None:
        self.threads.add(threading.current_thread().name)
        time.sleep(0.02)
        if self.fail_first and not self.writes:
            self.writes.append(None)
            raise OSError("online store down")
        self.writes.append(pushes)


def _fresh(recorder: _Recorder) -> FreshFeatures:
    fresh = FreshFeatures(events=None, open_store=lambda: None)
    fresh._push = recorder  # the write itself; batching around it is what is tested
    return fresh


def test_merge_keeps_each_entity_once_with_its_newest_row():
    a = [(CUSTOMER_PUSH, [_row("customer_id", 1, 10, 1)]),
         (TERMINAL_PUSH, [_row("terminal_id", 7, 10, 1)])]
    b = [(CUSTOMER_PUSH, [_row("customer_id", 1, 20, 2), _row("customer_id", 2, 5, 1)])]
    c = [(CUSTOMER_PUSH, [_row("customer_id", 1, 15, 9)])]  # older than b's: dropped
    out = dict(merge([a, b, c]))
    assert sorted((r["customer_id"], r["n"]) for r in out[CUSTOMER_PUSH]) == [(1, 2), (2, 1)]
    assert [r["n"] for r in out[TERMINAL_PUSH]] == [1]


def test_concurrent_pushes_share_writes_and_wait_for_theirs():
    rec = _Recorder()
    fresh = _fresh(rec)

    async def go():
        async def one(i: int) -> int:
            await fresh._write([(CUSTOMER_PUSH, [_row("customer_id", i, i, i)])])
            # released only after a write that carried customer i has happened
            return sum(any(r["customer_id"] == i for _, rows in w for r in rows)
                       for w in rec.writes)
        return await asyncio.gather(*(one(i) for i in range(50)))

    seen = asyncio.run(go())
    assert all(n == 1 for n in seen)
    assert 1 <= len(rec.writes) <= 2  # one group, or the first alone and the rest
    assert fresh.writes == len(rec.writes)
    assert rec.threads and all(t.startswith("feast-push") for t in rec.threads)
    fresh._pool.shutdown()


def test_a_failed_write_fails_its_callers_and_the_next_group_still_goes():
    rec = _Recorder(fail_first=True)
    fresh = _fresh(rec)

    async def go():
        first = asyncio.ensure_future(
            fresh._write([(CUSTOMER_PUSH, [_row("customer_id", 1, 1, 1)])]))
        await asyncio.sleep(0)
        later = asyncio.gather(*(fresh._write([(CUSTOMER_PUSH, [_row("customer_id", i, 2, 1)])])
                                 for i in range(2, 6)))
        with pytest.raises(OSError):
            await first
        await later
        assert fresh._flushing is None

    asyncio.run(go())
    stored = [r["customer_id"] for w in rec.writes if w for _, rows in w for r in rows]
    assert sorted(stored) == [2, 3, 4, 5]
    fresh._pool.shutdown()


def _memo_fresh(tmp_path, recorder: _Recorder) -> FreshFeatures:
    """Over a real SQLite event log; the store counts as open, the write is `recorder`."""
    from features.event_log import SqliteEventLog

    fresh = FreshFeatures(events=SqliteEventLog(tmp_path / "events.db"),
                          open_store=lambda: None)
    fresh._store = object()
    fresh._push = recorder
    return fresh


def _stored(rec: _Recorder) -> list[tuple[str, int]]:
    return [(source, r.get("customer_id", r.get("terminal_id")))
            for w in rec.writes if w for source, rows in w for r in rows]


def test_a_slide_whose_rows_are_stored_already_writes_nothing_until_the_log_changes(
        tmp_path):
    from serving.events import Event

    rec = _Recorder()
    fresh = _memo_fresh(tmp_path, rec)
    t = 1_795_000_000

    async def go():
        # Never logged: zeros go out once, then this process knows they are stored
        assert await fresh.slide(7, 11, t) == 2
        assert await fresh.slide(7, 11, t) == 0
        assert await fresh.slide(7, 11, t + 60) == 0
        assert fresh.slides_skipped == 4
        # A payment of customer 7 at terminal 12 changes customer 7's log: its row is
        # pushed by the handler, and a later slide that changes its windows is written
        await fresh.handle(Event(type="payment_created", merchant_id="m", payment_id="p1",
                                 data={"customer_id": 7, "terminal_id": 12,
                                       "amount_minor": 500, "tx_epoch_s": t + 100}))
        before = len(rec.writes)
        assert await fresh.slide(7, 11, t + 100 + 2 * 86_400) == 1  # left the 1-day window
        assert _stored(rec)[-1] == (CUSTOMER_PUSH, 7) and len(rec.writes) == before + 1
        assert await fresh.slide(7, 11, t + 100 + 2 * 86_400 + 5) == 0
        await fresh.aclose()

    asyncio.run(go())


def test_a_failed_slide_is_not_remembered_and_the_memory_expires(tmp_path, monkeypatch):
    import serving.fresh_features as ff

    rec = _Recorder(fail_first=True)
    fresh = _memo_fresh(tmp_path, rec)

    async def go():
        with pytest.raises(OSError):
            await fresh.slide(1, 2, 1_795_000_000)
        assert await fresh.slide(1, 2, 1_795_000_000) == 2  # written this time
        assert await fresh.slide(1, 2, 1_795_000_000) == 0
        monkeypatch.setattr(ff, "SLID_TTL_S", 0.0)
        assert await fresh.slide(1, 2, 1_795_000_000) == 2  # memory expired
        await fresh.aclose()

    asyncio.run(go())
