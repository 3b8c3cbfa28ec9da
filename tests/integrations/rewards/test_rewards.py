"""SmartReward behaviour on a real chain (LiteSVM; the RPC stand-in for the prod path)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from contextlib import asynccontextmanager

import pytest
from solders.keypair import Keypair

from integrations.gateways.solana import LiteSvmBackend, RpcBackend, run_solana_rpc, spl
from integrations.rewards import (
    RewardConfig,
    RewardLedger,
    RewardService,
    build_reward_service,
    create_reward_mint,
    reward_units,
)
from smartpay.errors import DataFileError, InputError

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


@asynccontextmanager
async def _service(backend=None, ledger_url="sqlite://", clock=None, authority=None):
    """A service on a fresh mint and a migrated book, closed afterwards."""
    backend = backend or LiteSvmBackend()
    authority = authority or Keypair()
    mint = await create_reward_mint(backend, authority)
    cfg = RewardConfig(mint, refund_window_s=WINDOW, confirm_timeout_s=5)
    book = RewardLedger(ledger_url)
    await book.migrate()
    try:
        yield RewardService(backend, book, authority, cfg, clock or Clock())
    finally:
        await book.aclose()


@asynccontextmanager
async def _book(url: str):
    book = RewardLedger(url)
    try:
        yield book
    finally:
        await book.aclose()


def test_reward_units_should_pay_one_token_per_ten_currency_units_pro_rata():
    cfg = RewardConfig(Keypair().pubkey(), decimals=6)
    assert reward_units(2500, "USD", cfg) == 2_500_000  # 25.00 USD -> 2.5 tokens
    assert reward_units(1000, "JPY", cfg) == 100_000_000  # 1000 JPY -> 100 tokens
    assert reward_units(9, "USD", cfg) == 9_000


def test_a_successful_payment_should_mint_into_escrow_and_not_into_the_wallet_yet():
    async def scenario():
        async with _service() as svc:
            owner = str(Keypair().pubkey())
            rec = await svc.reward_payment("p1", owner, 2500, "USD")
            return rec, await spl.mint_supply(svc.backend, svc.config.mint), await svc.escrowed(owner), await svc.balance(owner)

    rec, supply, escrowed, balance = run(scenario())
    assert rec.state == "escrowed" and rec.units == 2_500_000 and rec.mint_sig
    assert (supply, escrowed, balance) == (2_500_000, 2_500_000, 0)


def test_release_after_the_refund_window_should_create_the_payer_account_and_credit_it():
    async def scenario():
        clock = Clock()
        async with _service(clock=clock) as svc:
            owner = str(Keypair().pubkey())  # has no token account yet
            await svc.reward_payment("p1", owner, 1000, "USD")
            early = await svc.release_due()
            clock.t += WINDOW + 1
            released = await svc.release_due()
            return early, released, await svc.balance(owner), await svc.escrowed(owner)

    early, released, balance, escrowed = run(scenario())
    assert early == [] and [r.state for r in released] == ["released"]
    assert (balance, escrowed) == (1_000_000, 0)


def test_balance_should_be_served_from_cache_for_five_minutes():
    async def scenario():
        clock = Clock()
        async with _service(clock=clock) as svc:
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
        async with _service(clock=clock) as svc:
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
        async with _service(clock=clock) as svc:
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
        async with _service() as svc:
            owner = str(Keypair().pubkey())
            await svc.on_refund("p1", 1000, owner)
            rec = await svc.reward_payment("p1", owner, 1000, "USD")
            return rec, await spl.mint_supply(svc.backend, svc.config.mint)

    rec, supply = run(scenario())
    assert rec.state == "canceled" and supply == 0


def test_concurrent_replays_of_one_payment_should_mint_exactly_once(tmp_path):
    """Four processes' worth of services (threads, each its own loop and engine) race."""
    backend, url = MovingChain(), f"sqlite:///{tmp_path / 'rewards.db'}"
    owner = str(Keypair().pubkey())

    async def setup():
        async with _service(backend, url) as first:
            return first.config, first._authority

    cfg, authority = run(setup())

    async def replay_burst():
        async with _book(url) as book:
            svc = RewardService(backend, book, authority, cfg)
            return await asyncio.gather(*[svc.reward_payment("p-dup", owner, 3000, "USD") for _ in range(8)])

    async def settle():
        async with _book(url) as book:
            return await RewardService(backend, book, authority, cfg).reward_payment("p-dup", owner, 3000, "USD")

    results: list = []
    threads = [threading.Thread(target=lambda: results.extend(run(replay_burst()))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settled = run(settle())
    supply = run(spl.mint_supply(backend, cfg.mint))
    assert len(results) == 32 and settled.state == "escrowed"
    assert {r.mint_sig for r in results if r.state == "escrowed"} <= {settled.mint_sig}
    assert supply == 3_000_000  # one mint of 3 tokens, not 32


def test_a_mint_signed_by_the_wrong_authority_should_be_recorded_as_failed():
    async def scenario():
        async with _service() as svc:
            impostor = Keypair()
            await svc.backend.airdrop(impostor.pubkey(), 10**9)
            bad = RewardService(svc.backend, svc.ledger, impostor, svc.config, svc._clock)
            rec = await bad.reward_payment("p1", str(Keypair().pubkey()), 1000, "USD")
            return rec, await spl.mint_supply(svc.backend, svc.config.mint)

    rec, supply = run(scenario())
    assert rec.state == "failed" and supply == 0


def test_the_rpc_backend_should_mint_escrow_and_release_like_litesvm():
    with run_solana_rpc() as url:
        async def scenario():
            clock = Clock()
            backend = RpcBackend(url)
            async with _service(backend, clock=clock) as svc:
                owner = str(Keypair().pubkey())
                await svc.reward_payment("p1", owner, 2000, "USD")
                await svc.reward_payment("p1", owner, 2000, "USD")
                clock.t += WINDOW + 1
                await svc.release_due()
                out = await svc.balance(owner), await spl.mint_supply(backend, svc.config.mint)
            await backend.aclose()
            return out

        assert run(scenario()) == (2_000_000, 2_000_000)


def test_building_the_service_without_its_authority_key_file_should_name_the_missing_path(tmp_path):
    missing = tmp_path / "secrets" / "reward_authority.json"
    with pytest.raises(DataFileError) as info:
        build_reward_service(LiteSvmBackend(), "sqlite://", missing, str(Keypair().pubkey()))
    assert str(missing) in str(info.value)


def test_building_the_service_with_a_malformed_mint_should_name_the_mint(tmp_path):
    key = tmp_path / "authority.json"
    spl.save_keypair(Keypair(), key)
    with pytest.raises(InputError) as info:
        build_reward_service(LiteSvmBackend(), "sqlite://", key, "not-a-mint")
    assert info.value.field == "reward mint" and "not-a-mint" in str(info.value)


def test_building_the_service_should_use_the_given_key_mint_and_reward_values(tmp_path):
    key, mint = tmp_path / "authority.json", Keypair().pubkey()
    authority = spl.load_or_create_keypair(key)
    svc = build_reward_service(LiteSvmBackend(), "sqlite://", key, str(mint), refund_window_s=60.0, decimals=2)
    run(svc.ledger.aclose())
    assert svc._authority == authority
    assert (svc.config.mint, svc.config.refund_window_s, svc.config.decimals) == (mint, 60.0, 2)


def test_two_payments_with_equal_rewards_should_each_mint():
    async def scenario():
        async with _service() as svc:
            owner = str(Keypair().pubkey())
            for pid in ("p1", "p2"):
                await svc.reward_payment(pid, owner, 1000, "USD")
            return await spl.mint_supply(svc.backend, svc.config.mint)

    assert run(scenario()) == 2_000_000


@pytest.mark.prod
def test_concurrent_replays_should_mint_once_with_a_postgresql_ledger(prod_server, pg_database):
    url = pg_database(*prod_server("postgres"))
    backend, owner, pid = MovingChain(), str(Keypair().pubkey()), f"p-pg-{uuid.uuid4().hex[:8]}"

    async def setup():
        async with _service(backend, url) as first:
            return first.config, first._authority

    cfg, authority = run(setup())

    async def replay_burst():
        async with _book(url) as book:
            svc = RewardService(backend, book, authority, cfg)
            return await asyncio.gather(*[svc.reward_payment(pid, owner, 3000, "USD") for _ in range(6)])

    async def settle():
        async with _book(url) as book:
            return await RewardService(backend, book, authority, cfg).reward_payment(pid, owner, 3000, "USD")

    threads = [threading.Thread(target=lambda: run(replay_burst())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert run(settle()).state == "escrowed"
    assert run(spl.mint_supply(backend, cfg.mint)) == 3_000_000
