"""Rewards across a restart: the chain (RPC stand-in) outlives the process that minted.

A restarted API process is a new RewardService built by `build_reward_service` from
the same persisted authority key file, mint address and book URL; it talks to the
same node over JSON-RPC. A restarted harness is a new stand-in restored from its
state file.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
from solders.keypair import Keypair

from integrations.gateways.solana import RpcBackend, run_solana_rpc, spl
from integrations.rewards import build_reward_service, create_reward_mint

WINDOW = 3600.0


class Clock:
    """A clock the test moves by hand (the same wall clock for both processes)."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def deployment(tmp_path):
    """What survives a restart: the authority key file, the book file, the mint."""
    return {"key": tmp_path / "secrets" / "reward_authority.json",
            "book": f"sqlite:///{tmp_path / 'rewards.db'}", "clock": Clock()}


async def _create_mint(url: str, key_file) -> str:
    """The harness's part: a persistent authority key and a mint it controls."""
    backend = RpcBackend(url)
    try:
        return str(await create_reward_mint(backend, spl.load_or_create_keypair(key_file)))
    finally:
        await backend.aclose()


@asynccontextmanager
async def _process(url: str, dep: dict, mint: str):
    """One API process's reward service, built only from what was persisted."""
    svc = build_reward_service(RpcBackend(url), dep["book"], dep["key"], mint,
                               refund_window_s=WINDOW, confirm_timeout_s=5, clock=dep["clock"])
    await svc.ledger.migrate()
    try:
        yield svc
    finally:
        await svc.aclose()


def test_a_reward_minted_before_a_restart_should_be_released_by_the_next_process(deployment):
    owner = str(Keypair().pubkey())
    with run_solana_rpc() as url:
        async def scenario():
            mint = await _create_mint(url, deployment["key"])
            async with _process(url, deployment, mint) as first:
                minted = await first.reward_payment("p1", owner, 2500, "USD")
            deployment["clock"].t += WINDOW + 1
            async with _process(url, deployment, mint) as second:
                released = await second.release_due()
                return minted, released, await second.balance(owner), await second.escrowed(owner)

        minted, released, balance, escrowed = run(scenario())
    assert minted.state == "escrowed"
    assert [(r.payment_id, r.state) for r in released] == [("p1", "released")]
    assert (balance, escrowed) == (2_500_000, 0)


def test_a_refund_after_a_restart_should_claw_back_a_reward_minted_before_it(deployment):
    owner = str(Keypair().pubkey())
    with run_solana_rpc() as url:
        async def scenario():
            mint = await _create_mint(url, deployment["key"])
            async with _process(url, deployment, mint) as first:
                await first.reward_payment("p1", owner, 4000, "USD")
            async with _process(url, deployment, mint) as second:
                clawed = await second.on_refund("p1", 4000)
                deployment["clock"].t += WINDOW + 1
                released = await second.release_due()
                supply = await spl.mint_supply(second.backend, second.config.mint)
                return clawed, released, supply, await second.balance(owner)

        clawed, released, supply, balance = run(scenario())
    assert (clawed.state, clawed.clawed_units) == ("clawed_back", 4_000_000)
    assert (released, supply, balance) == ([], 0, 0)


def test_a_reward_should_survive_a_restart_of_the_chain_and_of_the_process(deployment, tmp_path):
    """The harness saves the chain on stop and restores it on start, on another port."""
    owner, state = str(Keypair().pubkey()), tmp_path / "chain.json"

    async def before(url):
        mint = await _create_mint(url, deployment["key"])
        async with _process(url, deployment, mint) as first:
            await first.reward_payment("p1", owner, 1000, "USD")
        return mint

    async def after(url, mint):
        deployment["clock"].t += WINDOW + 1
        async with _process(url, deployment, mint) as second:
            released = await second.release_due()
            return released, await second.balance(owner)

    with run_solana_rpc(state_file=state) as url:
        mint = run(before(url))
    with run_solana_rpc(state_file=state) as url:
        released, balance = run(after(url, mint))
    assert [r.state for r in released] == ["released"] and balance == 1_000_000
