"""The client-side coalescer that sends concurrent fraud checks as one scorer call."""

from __future__ import annotations

import asyncio

import pytest

from serving.batching import Coalescer


class _Scorer:
    """Doubles each item; remembers the batches it was called with."""

    def __init__(self, delay_s: float = 0.01, fail: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.delay_s, self.fail = delay_s, fail

    async def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("scorer down")
        return [2 * i for i in items]


def test_concurrent_submissions_share_calls_and_each_gets_its_own_result():
    async def run():
        scorer = _Scorer()
        c = Coalescer(scorer, max_batch=64)
        got = await asyncio.gather(*(c.submit(i) for i in range(50)))
        return scorer, got

    scorer, got = asyncio.run(run())
    assert got == [2 * i for i in range(50)]
    assert len(scorer.calls) < 50 and sorted(sum(scorer.calls, [])) == list(range(50))


def test_items_arriving_while_a_call_is_in_flight_go_together_in_the_next():
    async def run():
        scorer = _Scorer(delay_s=0.05)
        c = Coalescer(scorer, max_batch=64, max_inflight=1)
        first = asyncio.ensure_future(c.submit(0))
        await asyncio.sleep(0.01)  # the first call is out; these queue behind it
        rest = [asyncio.ensure_future(c.submit(i)) for i in range(1, 6)]
        await asyncio.gather(first, *rest)
        return scorer

    assert asyncio.run(run()).calls == [[0], [1, 2, 3, 4, 5]]


def test_a_batch_never_exceeds_max_batch():
    async def run():
        scorer = _Scorer(delay_s=0)
        c = Coalescer(scorer, max_batch=8, max_inflight=1)
        await asyncio.gather(*(c.submit(i) for i in range(30)))
        return scorer

    calls = asyncio.run(run()).calls
    assert max(len(b) for b in calls) <= 8 and sum(len(b) for b in calls) == 30


def test_under_sustained_traffic_a_lone_item_waits_at_most_the_linger_for_company():
    async def run():
        scorer = _Scorer(delay_s=0)
        c = Coalescer(scorer, linger_s=0.05)
        await c.submit(0)  # traffic: a call just went out
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first = asyncio.ensure_future(c.submit(1))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(c.submit(2))
        await asyncio.gather(first, second)
        return scorer, loop.time() - t0

    scorer, took = asyncio.run(run())
    assert scorer.calls == [[0], [1, 2]] and 0.04 <= took < 0.5


def test_a_quiet_coalescer_sends_a_lone_item_at_once_whatever_the_linger():
    async def run():
        c = Coalescer(_Scorer(delay_s=0), linger_s=5.0)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await c.submit(1)
        return loop.time() - t0

    assert asyncio.run(run()) < 1.0


def test_a_failed_call_fails_every_waiter_of_that_batch_and_the_next_batch_still_runs():
    async def run():
        scorer = _Scorer(fail=True)
        c = Coalescer(scorer)
        results = await asyncio.gather(*(c.submit(i) for i in range(5)),
                                       return_exceptions=True)
        scorer.fail = False
        return results, await c.submit(21)

    results, later = asyncio.run(run())
    assert all(isinstance(r, ConnectionError) for r in results) and later == 42


def test_a_call_answering_the_wrong_number_of_results_is_an_error_not_a_mixup():
    async def short(items):
        return items[:-1]

    async def run():
        c = Coalescer(short)
        return await asyncio.gather(c.submit(1), c.submit(2), return_exceptions=True)

    with pytest.raises(RuntimeError, match="2 items"):
        raise next(r for r in asyncio.run(run()) if isinstance(r, Exception))
