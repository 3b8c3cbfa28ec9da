"""Rewards minted in batches: one chain transaction for many payments, each payment
still rewarded once, the largest batch fits in a Solana packet."""

from __future__ import annotations

import asyncio

from solders.keypair import Keypair

from integrations.gateways.solana import spl
from integrations.rewards import MAX_BATCH, RewardClaim
from tests.integrations.rewards.test_rewards import MovingChain, _service, run


def _claims(n: int, owner: str, amount: int = 2500, prefix: str = "pay_") -> list[RewardClaim]:
    return [RewardClaim(f"{prefix}{i:024x}", owner, amount + i, "USD") for i in range(n)]


def test_a_batch_should_mint_every_payments_reward_into_escrow_in_one_transaction():
    async def scenario():
        async with _service() as svc:
            owner = str(Keypair().pubkey())
            recs = await svc.reward_payments(_claims(5, owner))
            return recs, await spl.mint_supply(svc.backend, svc.config.mint), await svc.escrowed(owner)

    recs, supply, escrowed = run(scenario())
    assert [r.state for r in recs] == ["escrowed"] * 5
    assert len({r.mint_sig for r in recs}) == 1  # one transaction
    assert supply == escrowed == sum(r.units for r in recs) > 0


def test_the_largest_batch_of_the_longest_payment_ids_fits_in_one_solana_packet():
    async def scenario():
        async with _service() as svc:
            owner = str(Keypair().pubkey())
            claims = _claims(MAX_BATCH, owner, prefix="pay_" + "f" * 36)  # 64-char ids
            return await svc.reward_payments(claims)

    recs = run(scenario())
    assert [r.state for r in recs] == ["escrowed"] * MAX_BATCH


def test_a_batch_replayed_after_it_was_minted_should_mint_nothing_more():
    async def scenario():
        async with _service(MovingChain()) as svc:
            owner = str(Keypair().pubkey())
            claims = _claims(3, owner)
            first = await svc.reward_payments(claims)
            again = await svc.reward_payments(claims)
            single = await svc.reward_payment(*claims[0])
            return first, again, single, await spl.mint_supply(svc.backend, svc.config.mint)

    first, again, single, supply = run(scenario())
    assert [r.mint_sig for r in again] == [r.mint_sig for r in first]
    assert single.mint_sig == first[0].mint_sig
    assert supply == sum(r.units for r in first)


def test_a_batch_holding_a_payment_minted_alone_should_mint_only_the_others():
    async def scenario():
        async with _service(MovingChain()) as svc:
            owner = str(Keypair().pubkey())
            claims = _claims(4, owner)
            alone = await svc.reward_payment(*claims[2])
            recs = await svc.reward_payments(claims)
            return alone, recs, await spl.mint_supply(svc.backend, svc.config.mint)

    alone, recs, supply = run(scenario())
    assert recs[2].mint_sig == alone.mint_sig
    assert [r.state for r in recs] == ["escrowed"] * 4
    assert supply == sum(r.units for r in recs)


def test_a_refunded_payment_in_a_later_batch_is_not_minted():
    async def scenario():
        async with _service() as svc:
            owner = str(Keypair().pubkey())
            claims = _claims(3, owner)
            await svc.on_refund(claims[1].payment_id, claims[1].amount_minor, owner)
            recs = await svc.reward_payments(claims)
            return recs, await spl.mint_supply(svc.backend, svc.config.mint)

    recs, supply = run(scenario())
    assert [r.state for r in recs] == ["escrowed", "canceled", "escrowed"]
    assert supply == recs[0].units + recs[2].units


def test_concurrent_batches_sharing_payments_mint_each_payment_once():
    async def scenario():
        async with _service(MovingChain()) as svc:
            owner = str(Keypair().pubkey())
            claims = _claims(6, owner)
            await asyncio.gather(svc.reward_payments(claims[:4]), svc.reward_payments(claims[2:]),
                                 svc.reward_payments(claims))
            recs = await svc.reward_payments(claims)
            return recs, await spl.mint_supply(svc.backend, svc.config.mint)

    recs, supply = run(scenario())
    assert [r.state for r in recs] == ["escrowed"] * 6
    assert supply == sum(r.units for r in recs)
