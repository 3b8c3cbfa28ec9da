"""Create the SmartReward mint and build a RewardService from settings."""

from __future__ import annotations

from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from integrations.gateways.config import GatewaySettings
from integrations.gateways.solana import spl
from integrations.gateways.solana.chain import ChainBackend
from integrations.rewards.ledger import RewardLedger
from integrations.rewards.service import RewardConfig, RewardService
from smartpay.errors import InputError
from smartpay.settings import Settings, get_settings

SOL = 10**9


async def create_reward_mint(backend: ChainBackend, authority: Keypair, decimals: int = 6,
                             fund: bool = True) -> Pubkey:
    """A new SmartReward mint controlled by `authority`, with its escrow account."""
    if fund:
        await backend.airdrop(authority.pubkey(), 100 * SOL)
    mint = await spl.create_mint(backend, authority, authority.pubkey(), decimals)
    outcome = await spl.submit(backend, [spl.ensure_ata_ix(authority.pubkey(), authority.pubkey(), mint)],
                               authority, [])
    if outcome.state != "confirmed":
        raise RuntimeError(f"escrow account {outcome.state}: {outcome.err}")
    return mint


def new_authority_file(path: Path) -> Keypair:
    """Generate a mint authority keypair into a secret file (mode 600)."""
    kp = Keypair()
    spl.save_keypair(kp, path)
    return kp


def build_reward_service(settings: Settings | None = None, gw: GatewaySettings | None = None,
                         backend: ChainBackend | None = None) -> RewardService:
    """The RewardService configured by SMARTPAY_REWARD_* settings."""
    from integrations.gateways.registry import solana_backend

    settings, gw = settings or get_settings(), gw or GatewaySettings()
    if not gw.reward_authority_keypair_file:
        raise InputError("SMARTPAY_REWARD_AUTHORITY_KEYPAIR_FILE", None, "a keypair file of the mint authority")
    if not gw.reward_mint:
        raise InputError("SMARTPAY_REWARD_MINT", gw.reward_mint, "the SmartReward mint address")
    authority = spl.load_keypair(gw.reward_authority_keypair_file)
    config = RewardConfig(Pubkey.from_string(gw.reward_mint), gw.reward_decimals, gw.reward_tokens_per_step,
                          gw.reward_step_major_units, gw.reward_refund_window_s, gw.reward_balance_ttl_s)
    url = gw.reward_ledger_url
    if not url:
        settings.path("rewards").mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{settings.path('rewards', 'rewards.db')}"
    return RewardService(backend or solana_backend(gw), RewardLedger(url), authority, config)
