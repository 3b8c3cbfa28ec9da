"""The scheduled release: a task that releases due rewards and survives failing rounds."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from solders.keypair import Keypair

from integrations.gateways.solana import LiteSvmBackend
from integrations.rewards import RewardConfig, RewardLedger, RewardReleaser, RewardService, create_reward_mint

WINDOW = 3600.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


class FlakyService:
    """A service stand-in whose release fails for the first `failures` rounds."""

    def __init__(self, failures: int) -> None:
        self.failures, self.settled, self.released = failures, 0, 0

    async def settle_pending(self) -> int:
        self.settled += 1
        return 0

    async def release_due(self) -> list:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("chain unreachable")
        self.released += 1
        return []


def run(coro):
    return asyncio.run(coro)


async def _until(predicate, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def test_the_releaser_should_release_a_reward_once_its_refund_window_has_passed():
    async def scenario():
        clock, backend, authority = Clock(), LiteSvmBackend(), Keypair()
        mint = await create_reward_mint(backend, authority)
        book = RewardLedger()
        await book.migrate()
        svc = RewardService(backend, book, authority, RewardConfig(mint, refund_window_s=WINDOW), clock)
        owner = str(Keypair().pubkey())
        await svc.reward_payment("p1", owner, 1000, "USD")
        releaser = RewardReleaser(svc, every_s=0.01)
        releaser.start()
        try:
            await _until(lambda: releaser.rounds >= 3)
            early = (await svc.ledger.must("p1"))["state"]
            clock.t += WINDOW + 1
            await _until(lambda: releaser.rounds >= 6)
            late = (await svc.ledger.must("p1"))["state"]
        finally:
            await releaser.stop()
            await book.aclose()
        return early, late, await svc.balance(owner)

    early, late, balance = run(scenario())
    assert (early, late, balance) == ("escrowed", "released", 1_000_000)


def test_a_failing_round_should_be_logged_and_the_next_round_should_still_run(caplog):
    caplog.set_level(logging.ERROR, logger="integrations.rewards.releaser")

    async def scenario():
        svc = FlakyService(failures=2)
        releaser = RewardReleaser(svc, every_s=0.01)
        releaser.start()
        try:
            await _until(lambda: svc.released >= 2)
        finally:
            await releaser.stop()
        return releaser.failures, svc.settled

    failures, settled = run(scenario())
    assert failures == 2 and settled >= 4  # pending entries are settled every round
    assert "reward release round" in caplog.text and "chain unreachable" in caplog.text


def test_stopping_the_releaser_should_end_its_task_and_leave_no_thread_behind():
    threads_before = set(threading.enumerate())

    async def scenario():
        releaser = RewardReleaser(FlakyService(failures=0), every_s=3600)
        releaser.start()
        await _until(lambda: releaser.rounds == 1)
        await asyncio.wait_for(releaser.stop(), 1.0)  # does not sit out the hour
        return releaser.running, [t for t in asyncio.all_tasks() if t.get_name() == "reward-releaser"]

    running, tasks = run(scenario())
    assert running is False and tasks == []
    assert set(threading.enumerate()) <= threads_before


def test_stop_should_let_a_round_in_progress_finish():
    class SlowService(FlakyService):
        async def release_due(self) -> list:
            await asyncio.sleep(0.05)
            self.released += 1
            return []

    async def scenario():
        svc = SlowService(failures=0)
        releaser = RewardReleaser(svc, every_s=3600)
        releaser.start()
        await _until(lambda: svc.settled == 1)  # the round is inside release_due now
        await releaser.stop()
        return svc.released

    assert run(scenario()) == 1


def test_a_releaser_needs_a_positive_interval():
    with pytest.raises(ValueError, match="every_s"):
        RewardReleaser(FlakyService(0), every_s=0)
