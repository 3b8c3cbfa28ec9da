"""SmartReward loyalty tokens (SPL) minted per successful payment, escrowed, released.

    service = build_reward_service()                  # from SMARTPAY_REWARD_* settings
    await service.reward_payment(payment_id, payer_wallet, amount_minor, "USD")
    await service.on_refund(payment_id, refunded_minor)   # claw back while escrowed
    await service.release_due()                        # after the refund window
    await service.balance(payer_wallet)                # cached 5 minutes

Locally: `mint = await create_reward_mint(LiteSvmBackend(), authority)`.
"""

from integrations.rewards.ledger import RewardLedger
from integrations.rewards.service import RewardConfig, RewardError, RewardRecord, RewardService, reward_units
from integrations.rewards.setup import build_reward_service, create_reward_mint, new_authority_file

__all__ = ["RewardConfig", "RewardError", "RewardLedger", "RewardRecord", "RewardService", "build_reward_service",
           "create_reward_mint", "new_authority_file", "reward_units"]
