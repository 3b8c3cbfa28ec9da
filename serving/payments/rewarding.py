"""The reward steps of the payment service: mint one payment's reward now, a batch of
them for the minter, and claw back a refunded share. Mixed into `PaymentService`
(they use its store, cache and rewards port); apart so each file holds one idea."""

from __future__ import annotations

import logging

from serving import observability as obs
from serving.events import Event

log = logging.getLogger("smartpay.payments")


class Rewarding:
    """Reward steps over `self.store`, `self.cache` and `self.rewards`."""

    store: object
    cache: object
    rewards: object | None

    async def mint_reward(self, p: dict) -> dict:
        """Mint the payment's reward into escrow (idempotent per payment); the reward
        and its `reward_minted` event are written together. A chain failure leaves the
        payment captured, its reward unwritten: status sync (or POST /reward) retries."""
        user = f"{p['merchant_id']}:{p['user_id']}"
        try:
            minted = await self.rewards.mint(p["id"], user, p["amount_minor"],
                                             p["currency"])
        except Exception as exc:
            log.warning("reward mint for %s failed: %s", p["id"], type(exc).__name__)
            return {"user_id": p["user_id"], "amount": 0, "status": "failed"}
        return await self._write_reward(p, minted)

    async def mint_rewards(self, batch: list[dict]) -> None:
        """Mint a batch of captured payments' rewards in one chain transaction and
        write each with its event. A failure writes nothing: status sync retries."""
        claims = [(p["id"], f"{p['merchant_id']}:{p['user_id']}", p["amount_minor"],
                   p["currency"]) for p in batch]
        for p, minted in zip(batch, await self.rewards.mint_many(claims)):
            await self._write_reward(p, minted)

    async def claw_back(self, p: dict, refunded_minor: int) -> None:
        """Burn the refunded share of an escrowed reward (a refund must not earn
        tokens); `refunded_minor` is the store's total, never a stale read. A reward
        minted after a refund (its mint had failed) is clawed back when it is written."""
        user = f"{p['merchant_id']}:{p['user_id']}"
        try:
            out = await self.rewards.on_refund(p["id"], refunded_minor, user)
        except Exception as exc:
            log.warning("reward claw-back for %s failed: %s", p["id"], type(exc).__name__)
            return
        await self.store.update_fields(p["id"], reward={**p["reward"], "amount": out["units"],
                                                        "status": out["status"]})
        await self.cache.delete("balance", user)

    async def _write_reward(self, p: dict, minted: dict) -> dict:
        reward = {"user_id": p["user_id"], "amount": minted["units"],
                  "status": minted["status"], "signature": minted.get("signature")}
        events = []
        if minted["status"] == "escrowed":
            obs.REWARDS.inc()
            events.append(Event(type="reward_minted", merchant_id=p["merchant_id"],
                                payment_id=p["id"], data=reward,
                                id=f"{p['id']}:reward_minted"))
        refunded = await self.store.set_reward(p["id"], reward, events)
        if refunded is None:
            return (await self.store.get(p["id"]))["reward"]  # a refund got there first
        if refunded and reward["status"] == "escrowed":  # refunded while its mint failed
            await self.claw_back({**p, "reward": reward}, refunded)
            return (await self.store.get(p["id"]))["reward"]
        await self.cache.delete("balance", f"{p['merchant_id']}:{p['user_id']}")
        return reward
