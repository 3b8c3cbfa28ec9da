"""Rewards minted beside /pay: answered as `minting`, written by the minter in batches,
queued again by status sync when a batch failed or a process died."""

from __future__ import annotations

import asyncio

from serving.payments.minter import RewardMinter
from tests.serving.payments.fakes import FakeRewards


def _with_minter(world, max_batch: int = 20, **rewards) -> RewardMinter:
    world.svc.rewards = FakeRewards(**rewards)
    world.svc.minter = RewardMinter(world.svc.mint_rewards, max_batch=max_batch)
    world.svc.minter.start()
    return world.svc.minter


def test_pay_answers_the_reward_as_minting_and_the_minter_writes_it_with_its_event(world):
    async def flow():
        minter = _with_minter(world)
        view = await world.pay(amount_minor=10_000)
        await minter.stop()
        return view

    view = world.run(flow())
    assert (view.status, view.reward.status, view.reward.amount) == ("captured", "minting", 10)
    assert world.store.payments[view.payment_id]["reward"]["status"] == "escrowed"
    assert [e.payment_id for e in world.store.events("reward_minted")] == [view.payment_id]


def test_payments_captured_while_a_batch_is_on_the_chain_are_minted_together(world):
    async def flow():
        minter = _with_minter(world)
        views = await asyncio.gather(*(world.pay(key=f"k{i}", amount_minor=10_000 + i)
                                       for i in range(6)))
        await minter.stop()
        return views

    views = world.run(flow())
    batches = world.svc.rewards.batches
    assert sorted(p for b in batches for p in b) == sorted(v.payment_id for v in views)
    assert len(batches) < len(views)  # queued while one was minting: shared a batch


def test_a_batch_is_never_larger_than_the_minters_limit(world):
    async def flow():
        minter = _with_minter(world, max_batch=2)
        await asyncio.gather(*(world.pay(key=f"k{i}") for i in range(7)))
        await minter.stop()

    world.run(flow())
    assert max(len(b) for b in world.svc.rewards.batches) <= 2
    assert sum(len(b) for b in world.svc.rewards.batches) == 7


def test_a_failed_batch_writes_nothing_and_status_sync_mints_it_later(world):
    async def flow():
        minter = _with_minter(world, down=True)
        view = await world.pay(amount_minor=10_000)
        await asyncio.sleep(0.01)
        unwritten = world.store.payments[view.payment_id]["reward"]
        world.svc.rewards.down = False
        counts = await world.svc.reconcile()
        await minter.stop()
        return view, unwritten, counts

    view, unwritten, counts = world.run(flow())
    assert unwritten is None and counts == {"reward_queued": 1}
    assert world.store.payments[view.payment_id]["reward"]["status"] == "escrowed"
    assert len(world.store.events("reward_minted")) == 1


def test_without_a_running_minter_the_reward_is_minted_before_the_answer(world):
    world.svc.rewards = FakeRewards()
    world.svc.minter = RewardMinter(world.svc.mint_rewards, max_batch=20)  # not started
    view = world.run(world.pay(amount_minor=10_000))
    assert view.reward.status == "escrowed"


def test_a_payment_queued_twice_is_minted_once(world):
    async def flow():
        minter = _with_minter(world)
        view = await world.pay(amount_minor=10_000)
        p = await world.store.get(view.payment_id)
        minter.submit(p)
        await world.svc.reconcile()
        await minter.stop()
        return view

    view = world.run(flow())
    assert len(world.store.events("reward_minted")) == 1
    assert world.svc.rewards.minted[view.payment_id]["status"] == "escrowed"


def test_a_reward_minted_only_after_a_partial_refund_is_clawed_back_when_written(world):
    from serving.payments.refunds import refund
    from tests.serving.payments.conftest import who

    async def flow():
        minter = _with_minter(world, down=True)
        view = await world.pay(amount_minor=10_000)
        await refund(world.svc, who(), view.payment_id, 5_000, "r1")  # chain still down
        world.svc.rewards.down = False
        await world.svc.reconcile()
        await minter.stop()
        return view

    view = world.run(flow())
    reward = world.store.payments[view.payment_id]["reward"]
    assert (reward["status"], reward["amount"]) == ("escrowed", 5)  # 10 minted, 5 back
    assert world.svc.rewards.refunds == [(view.payment_id, 5_000, "m1:customer-7")]
