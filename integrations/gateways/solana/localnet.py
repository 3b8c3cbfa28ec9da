"""Set up a local chain for the Solana gateway: a stablecoin-like mint, funded wallets.

Works on any back-end that can airdrop (LiteSVM, the RPC stand-in, devnet):

    chain = await setup_localnet(LiteSvmBackend(), payers=2)
    adapter = SolanaAdapter(chain.backend, Ledger(), **chain.adapter_kwargs())
"""

from __future__ import annotations

from dataclasses import dataclass, field

from solders.keypair import Keypair

from integrations.gateways.solana import spl
from integrations.gateways.solana.chain import ChainBackend
from integrations.gateways.solana.transformers import SolanaAsset
from smartpay.money import CURRENCY_EXPONENT

SOL = 10**9


@dataclass
class LocalChain:
    """Keys and asset of a locally prepared chain."""

    backend: ChainBackend
    merchant: Keypair
    escrow: Keypair
    mint_authority: Keypair
    asset: SolanaAsset
    currency: str
    wallets: dict[str, Keypair] = field(default_factory=dict)

    def adapter_kwargs(self) -> dict:
        """Keyword arguments for SolanaAdapter."""
        return {"merchant": self.merchant, "escrow": self.escrow, "asset": self.asset,
                "wallets": self.wallets.get, "currency": self.currency}

    async def new_wallet(self, funds_minor: int) -> str:
        """A custodial payer wallet holding `funds_minor` of the stablecoin."""
        kp = Keypair()
        mint, units = self.asset.mint_address, self.asset.units(funds_minor)
        ixs = [spl.ensure_ata_ix(self.merchant.pubkey(), kp.pubkey(), mint)]
        if units:
            ixs.append(spl.mint_ix(mint, kp.pubkey(), self.mint_authority.pubkey(), units, self.asset.decimals))
        outcome = await spl.submit(self.backend, ixs, self.merchant, [self.mint_authority])
        if outcome.state != "confirmed":
            raise RuntimeError(f"wallet funding {outcome.state}: {outcome.err}")
        self.wallets[str(kp.pubkey())] = kp
        return str(kp.pubkey())


async def setup_localnet(backend: ChainBackend, currency: str = "USD", decimals: int = 6) -> LocalChain:
    """Create fee-paying merchant, escrow and a fresh stablecoin mint on `backend`."""
    merchant, escrow, authority = Keypair(), Keypair(), Keypair()
    await backend.airdrop(merchant.pubkey(), 1000 * SOL)
    mint = await spl.create_mint(backend, merchant, authority.pubkey(), decimals)
    ixs = [spl.ensure_ata_ix(merchant.pubkey(), owner.pubkey(), mint) for owner in (merchant, escrow)]
    outcome = await spl.submit(backend, ixs, merchant, [])
    if outcome.state != "confirmed":
        raise RuntimeError(f"token accounts {outcome.state}: {outcome.err}")
    asset = SolanaAsset("spl", 10 ** (decimals - CURRENCY_EXPONENT[currency]), mint, decimals)
    return LocalChain(backend, merchant, escrow, authority, asset, currency)
