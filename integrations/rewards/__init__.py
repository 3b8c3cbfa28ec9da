"""SmartReward loyalty tokens (SPL) minted per successful payment, escrowed, released.

    service = build_reward_service(backend, ledger_url, authority_file, mint_address)
    await service.ledger.migrate()                      # once, at start-up
    await service.reward_payment(payment_id, payer_wallet, amount_minor, "USD")
    await service.on_refund(payment_id, refunded_minor)  # claw back while escrowed
    releaser = RewardReleaser(service, every_s=60)       # releases after the refund window
    releaser.start(); ...; await releaser.stop()
    await service.balance(payer_wallet)                  # cached 5 minutes

Locally: `mint = await create_reward_mint(LiteSvmBackend(), authority)`.
"""

from integrations.rewards.ledger import RewardLedger
from integrations.rewards.releaser import RewardReleaser
from integrations.rewards.service import (
    MAX_BATCH, RewardClaim, RewardConfig, RewardError, RewardRecord, RewardService, reward_units,
)
from integrations.rewards.setup import build_reward_service, create_reward_mint, new_authority_file

__all__ = ["MAX_BATCH", "RewardClaim", "RewardConfig", "RewardError", "RewardLedger", "RewardRecord", "RewardReleaser", "RewardService",
           "build_reward_service", "create_reward_mint", "new_authority_file", "reward_units"]
