"""SmartReward behaviour on a real chain (LiteSVM; the RPC stand-in for the prod path)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from solders.keypair import Keypair

from integrations.gateways.config import GatewaySettings
from integrations.gateways.solana import LiteSvmBackend, RpcBackend, run_solana_rpc, spl
from integrations.rewards import (
    RewardConfig,
    RewardLedger,
    RewardService,
    build_reward_service,
    create_reward_mint,
    reward_units,
)
from smartpay.errors import InputError
from smartpay.settings import Settings

WINDOW = 3600.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def run(coro):
    return asyncio.run(coro)


class MovingChain(LiteSvmBackend):
    """LiteSVM whose blockhash moves on every read, as a live cluster's does.

    Without it identical replays would build byte-identical transactions that the
    chain itself de-duplicates, and the test could not catch a double mint.
    """

    async def latest_blockhash(self):
        with self._lock:
            self.svm.expire_blockhash()
            return self.svm.latest_blockhash()


async def _service(backend=None, ledger_url="sqlite://", clock=None, authority=None):
    backend = backend or LiteSvmBackend()
    authority = authority or Keypair()
    mint = await create_reward_mint(backend, authority)
    cfg = RewardConfig(mint, refund_window_s=WINDOW, confirm_timeout_s=5)
    return RewardService(backend, RewardLedger(ledger_url), authority, cfg, clock or Clock())


def test_reward_units_should_pay_one_token_per_ten_currency_units_pro_rata():
    cfg = RewardConfig(Keypair().pubkey(), decimals=6)
    assert reward_units(2500, "USD", cfg) == 2_500_000  # 25.00 USD -> 2.5 tokens
    assert reward_units(1000, "JPY", cfg) == 100_000_000  # 1000 JPY -> 100 tokens
    assert reward_units(9, "USD", cfg) == 9_000


def test_a_successful_payment_should_mint_into_escrow_and_not_into_the_wallet_yet():
    async def scenario():
        svc = await _service()
        owner = str(Keypair().pubkey())
        rec = await svc.reward_payment("p1", owner, 2500, "USD")
        return rec, await spl.mint_supply(svc.backend, svc.config.mint), svc.escrowed(owner), await svc.balance(owner)

    rec, supply, escrowed, balance = run(scenario())
    assert rec.state == "escrowed" and rec.units == 2_500_000 and rec.mint_sig
    assert (supply, escrowed, balance) == (2_500_000, 2_500_000, 0)


def test_release_after_the_refund_window_should_create_the_payer_account_and_credit_it():
    async def scenario():
        clock = Clock()
        svc = await _service(clock=clock)
        owner = str(Keypair().pubkey())  # has no token account yet
        await svc.reward_payment("p1", owner, 1000, "USD")
        early = await svc.release_due()
        clock.t += WINDOW + 1
        released = await svc.release_due()
        return early, released, await svc.balance(owner), svc.escrowed(owner)

    early, released, balance, escrowed = run(scenario())
    assert early == [] and [r.state for r in released] == ["released"]
    assert (balance, escrowed) == (1_000_000, 0)


def test_balance_should_be_served_from_cache_for_five_minutes():
    async def scenario():
        clock = Clock()
        svc = await _service(clock=clock)
        owner = Keypair().pubkey()
        first = await svc.balance(str(owner))
        ixs = [spl.ensure_ata_ix(svc._authority.pubkey(), owner, svc.config.mint),
               spl.mint_ix(svc.config.mint, owner, svc._authority.pubkey(), 5, 6)]
        await spl.submit(svc.backend, ixs, svc._authority, [])
        clock.t += 299
        cached = await svc.balance(str(owner))
        clock.t += 2
        return first, cached, await svc.balance(str(owner))

    assert run(scenario()) == (0, 0, 5)


def test_a_full_refund_inside_the_window_should_burn_the_escrowed_reward():
    async def scenario():
        clock = Clock()
        svc = await _service(clock=clock)
        owner = str(Keypair().pubkey())
        await svc.reward_payment("p1", owner, 5000, "USD")
        rec = await svc.on_refund("p1", 5000)
        clock.t += WINDOW + 1
        released = await svc.release_due()
        return rec, released, await spl.mint_supply(svc.backend, svc.config.mint), await svc.balance(owner)

    rec, released, supply, balance = run(scenario())
    assert rec.state == "clawed_back" and rec.clawed_units == 5_000_000
    assert (released, supply, balance) == ([], 0, 0)


def test_a_partial_refund_should_claw_back_only_its_share_and_release_the_rest():
    async def scenario():
        clock = Clock()
        svc = await _service(clock=clock)
        owner = str(Keypair().pubkey())
        await svc.reward_payment("p1", owner, 10_000, "USD")  # 10 tokens
        rec = await svc.on_refund("p1", 4_000)
        again = await svc.on_refund("p1", 4_000)  # a replayed refund event claws nothing more
        clock.t += WINDOW + 1
        await svc.release_due()
        return rec, again, await svc.balance(owner)

    rec, again, balance = run(scenario())
    assert (rec.units, rec.clawed_units) == (6_000_000, 4_000_000)
    assert (again.units, again.clawed_units) == (6_000_000, 4_000_000)
    assert balance == 6_000_000


def test_a_refund_before_the_reward_was_minted_should_cancel_it_for_good():
    async def scenario():
        svc = await _service()
        owner = str(Keypair().pubkey())
        await svc.on_refund("p1", 1000, owner)
        rec = await svc.reward_payment("p1", owner, 1000, "USD")
        return rec, await spl.mint_supply(svc.backend, svc.config.mint)

    rec, supply = run(scenario())
    assert rec.state == "canceled" and supply == 0


def test_concurrent_replays_of_one_payment_should_mint_exactly_once(tmp_path):
    backend, url = MovingChain(), f"sqlite:///{tmp_path / 'rewards.db'}"
    first = run(_service(backend, url))
    cfg, authority, owner = first.config, first._authority, str(Keypair().pubkey())

    async def replay_burst():
        svc = RewardService(backend, RewardLedger(url), authority, cfg)
        return await asyncio.gather(*[svc.reward_payment("p-dup", owner, 3000, "USD") for _ in range(8)])

    results: list = []
    threads = [threading.Thread(target=lambda: results.extend(run(replay_burst()))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settled = run(first.reward_payment("p-dup", owner, 3000, "USD"))
    supply = run(spl.mint_supply(backend, cfg.mint))
    assert len(results) == 32 and settled.state == "escrowed"
    assert supply == 3_000_000  # one mint of 3 tokens, not 32


def test_a_mint_signed_by_the_wrong_authority_should_be_recorded_as_failed():
    async def scenario():
        svc = await _service()
        impostor = Keypair()
        await svc.backend.airdrop(impostor.pubkey(), 10**9)
        bad = RewardService(svc.backend, RewardLedger(), impostor, svc.config, svc._clock)
        rec = await bad.reward_payment("p1", str(Keypair().pubkey()), 1000, "USD")
        return rec, await spl.mint_supply(svc.backend, svc.config.mint)

    rec, supply = run(scenario())
    assert rec.state == "failed" and supply == 0


def test_the_rpc_backend_should_mint_escrow_and_release_like_litesvm():
    with run_solana_rpc() as url:
        async def scenario():
            clock = Clock()
            backend = RpcBackend(url)
            svc = await _service(backend, clock=clock)
            owner = str(Keypair().pubkey())
            await svc.reward_payment("p1", owner, 2000, "USD")
            await svc.reward_payment("p1", owner, 2000, "USD")
            clock.t += WINDOW + 1
            await svc.release_due()
            out = await svc.balance(owner), await spl.mint_supply(backend, svc.config.mint)
            await backend.aclose()
            return out

        assert run(scenario()) == (2_000_000, 2_000_000)


def test_building_the_service_without_an_authority_file_should_name_the_setting(data_dir):
    with pytest.raises(InputError) as info:
        build_reward_service(Settings(), GatewaySettings(reward_mint=str(Keypair().pubkey())))
    assert "REWARD_AUTHORITY_KEYPAIR_FILE" in str(info.value)


def test_two_payments_with_equal_rewards_should_each_mint():
    async def scenario():
        svc = await _service()
        owner = str(Keypair().pubkey())
        for pid in ("p1", "p2"):
            await svc.reward_payment(pid, owner, 1000, "USD")
        return await spl.mint_supply(svc.backend, svc.config.mint)

    assert run(scenario()) == 2_000_000


@pytest.mark.prod
def test_concurrent_replays_should_mint_once_with_a_postgresql_ledger(prod_server):
    from tests.integrations.rewards.pg import scratch_database

    host, port = prod_server("postgres")
    with scratch_database(host, port) as url:
        backend = MovingChain()
        first = run(_service(backend, url))
        owner = str(Keypair().pubkey())

        async def replay_burst():
            svc = RewardService(backend, RewardLedger(url), first._authority, first.config)
            try:
                return await asyncio.gather(*[svc.reward_payment("p-pg", owner, 3000, "USD") for _ in range(6)])
            finally:
                svc.ledger.engine.dispose()

        threads = [threading.Thread(target=lambda: run(replay_burst())) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        settled = run(first.reward_payment("p-pg", owner, 3000, "USD"))
        first.ledger.engine.dispose()
        assert settled.state == "escrowed"
        assert run(spl.mint_supply(backend, first.config.mint)) == 3_000_000
