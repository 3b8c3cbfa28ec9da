"""Adapter from `integrations.rewards.RewardService` to the flow's `RewardsPort`.

Users are `<merchant>:<user>` strings; each gets a custodial reward wallet whose address
is derived from that name (a stable key per user; no secret is stored for it because
SmartPay only ever sends tokens *to* it). Mints are idempotent per payment id.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from solders.keypair import Keypair


@lru_cache(maxsize=65_536)  # an ed25519 key derivation per payment otherwise
def wallet_of(user: str) -> str:
    """The reward wallet address of a merchant's user."""
    seed = hashlib.sha256(f"smartpay-reward-wallet:{user}".encode()).digest()
    return str(Keypair.from_seed(seed).pubkey())


class RewardsAdapter:
    """SmartReward minting into escrow, claw-back on refunds, balances."""

    def __init__(self, service) -> None:
        self.service = service

    async def mint(self, payment_id: str, user: str, amount_minor: int, currency: str) -> dict:
        return _minted(await self.service.reward_payment(payment_id, wallet_of(user),
                                                         amount_minor, currency))

    async def mint_many(self, claims: list[tuple[str, str, int, str]]) -> list[dict]:
        """Mint several payments' rewards in one chain transaction per `MAX_BATCH`."""
        from integrations.rewards import MAX_BATCH, RewardClaim

        out = []
        for i in range(0, len(claims), MAX_BATCH):
            recs = await self.service.reward_payments(
                [RewardClaim(pid, wallet_of(user), amount, cur)
                 for pid, user, amount, cur in claims[i:i + MAX_BATCH]])
            out += [_minted(r) for r in recs]
        return out

    def units(self, amount_minor: int, currency: str) -> int:
        """The reward a payment of this amount earns (base units)."""
        from integrations.rewards import reward_units

        return reward_units(amount_minor, currency, self.service.config)

    async def on_refund(self, payment_id: str, refunded_minor: int, user: str) -> dict:
        rec = await self.service.on_refund(payment_id, refunded_minor, wallet_of(user))
        return {"units": rec.units, "status": rec.state}

    @property
    def decimals(self) -> int:
        """Decimals of the reward token (units are its base units)."""
        return self.service.config.decimals

    async def entries(self, payment_ids: list[str]) -> list[dict]:
        """The reward book's entries of these payments (state, units, claw-backs)."""
        return await self.service.ledger.many(payment_ids)

    async def balance(self, user: str) -> dict:
        owner = wallet_of(user)
        return {"balance": await self.service.balance(owner),
                "escrow": await self.service.escrowed(owner), "wallet": owner}


def _minted(rec) -> dict:
    return {"units": rec.units, "status": rec.state, "signature": rec.mint_sig,
            "wallet": rec.owner}
