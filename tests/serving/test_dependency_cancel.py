"""A model-service call that ends in a CancelledError nobody asked the caller's task
for becomes an ordinary error (the caller's fallback answers), while a cancel of the
caller's own task still ends it."""

from __future__ import annotations

import asyncio

import pytest

from serving.services import DependencyCancelled, _call


async def _awaits_a_future_cancelled_elsewhere():
    fut = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.01, fut.cancel)
    return await fut


async def _slow():
    await asyncio.sleep(10)


def test_a_foreign_cancel_is_a_failed_call():
    async def go():
        with pytest.raises(DependencyCancelled):
            await _call(_awaits_a_future_cancelled_elsewhere)
        assert not asyncio.current_task().cancelled()

    asyncio.run(go())


def test_a_cancel_of_the_callers_own_task_still_cancels_it():
    async def go():
        task = asyncio.ensure_future(_call(_slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    asyncio.run(go())


def test_the_fraud_batch_waiters_get_an_error_not_a_cancel():
    """Through the coalescer, as /fraud and /pay call the scorer: every waiter of a
    batch whose call was cancelled elsewhere sees the error."""
    from serving.batching import Coalescer

    async def score_many(items):
        return await _call(_awaits_a_future_cancelled_elsewhere)

    async def go():
        batcher = Coalescer(score_many)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(r, DependencyCancelled) for r in results)

    asyncio.run(go())
