"""Create the SmartReward mint and build a RewardService from explicit values.

The composition root reads the settings tree and passes what it found here; nothing
in this module reads settings or the environment.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from integrations.gateways.solana import spl
from integrations.gateways.solana.chain import ChainBackend
from integrations.rewards.ledger import RewardLedger
from integrations.rewards.service import RewardConfig, RewardService
from smartpay.errors import InputError

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


def build_reward_service(backend: ChainBackend, ledger_url: str, authority_keypair_file: Path | str,
                         mint: str, *, clock: Callable[[], float] = time.time,
                         **config: float) -> RewardService:
    """A RewardService over `backend`, its book at `ledger_url`, signing with the key file.

    `config` takes RewardConfig's other fields (decimals, tokens_per_step,
    step_major_units, refund_window_s, balance_ttl_s, confirm_timeout_s, expiry_s).
    The book is not migrated here: the caller runs `await service.ledger.migrate()`
    on start-up and `await service.ledger.aclose()` on shutdown.
    """
    if not str(authority_keypair_file or ""):
        raise InputError("reward authority keypair file", authority_keypair_file,
                         "the path of the mint authority's solana-keygen file")
    if not ledger_url:
        raise InputError("reward ledger url", ledger_url, "a database URL, e.g. sqlite:///data/rewards.db")
    authority = spl.load_keypair(Path(authority_keypair_file))
    reward_config = RewardConfig(_mint(mint), **config)
    return RewardService(backend, RewardLedger(ledger_url), authority, reward_config, clock)


def _mint(address: str) -> Pubkey:
    try:
        return Pubkey.from_string(address)
    except (ValueError, TypeError):
        raise InputError("reward mint", address, "the base58 address of the SmartReward SPL mint") from None
