"""The one builder of gateways: each configured adapter wrapped in the one resilience
policy of `Settings.gateways`. The serving composition root, the CLI and the
benchmarks all come here, so timeouts and retries cannot drift between them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from integrations.gateways.resilience import BreakerConfig, CircuitBreaker, ResilientGateway, RetryPolicy
from smartpay.errors import InputError
from smartpay.money import CURRENCY_EXPONENT
from smartpay.settings import GatewaySettings, Settings

if TYPE_CHECKING:
    from solders.keypair import Keypair


def resilient(adapter, gw: GatewaySettings) -> ResilientGateway:
    """Wrap one adapter with the configured timeouts, retries and its own breaker."""
    policy = RetryPolicy(attempts=gw.retry_attempts, base_delay_s=gw.backoff_s,
                         call_timeout_s=gw.timeout_s)
    breaker = CircuitBreaker(BreakerConfig(window=gw.breaker_window, min_calls=gw.breaker_min_calls,
                                           failure_rate=gw.breaker_failure_rate,
                                           open_seconds=gw.breaker_open_s))
    return ResilientGateway(adapter, policy, breaker)


def _need(value, field: str, expected: str):
    if not value:
        raise InputError(f"SMARTPAY_GATEWAYS__{field.upper()}", value, expected)
    return value


def build_stripe(settings: Settings):
    """The Stripe adapter for the configured key and API base."""
    from integrations.gateways.stripe import StripeAdapter, StripeConfig

    gw = settings.gateways
    return StripeAdapter(StripeConfig(settings.stripe_api_key, gw.stripe_api_base, gw.timeout_s,
                                      gw.stripe_webhook_secret))


def build_amazon_pay(settings: Settings):
    """The Amazon Pay adapter; needs a public key id and a private key file."""
    from integrations.gateways.amazon_pay import AmazonPayAdapter, AmazonPayConfig

    gw = settings.gateways
    key_id = _need(gw.amazon_pay_public_key_id, "amazon_pay_public_key_id", "the Amazon Pay public key id")
    key_file = _need(gw.amazon_pay_private_key_file, "amazon_pay_private_key_file", "a PEM private key file")
    return AmazonPayAdapter(AmazonPayConfig(key_id, Path(key_file), gw.amazon_pay_region,
                                            gw.amazon_pay_environment, gw.amazon_pay_endpoint or None,
                                            gw.timeout_s))


def solana_backend(settings: Settings, blockhash_reuse_s: float = 0.0):
    """The JSON-RPC node the Solana gateway and the rewards talk to."""
    from integrations.gateways.solana.chain import RpcBackend

    gw = settings.gateways
    url = _need(gw.solana_rpc_url, "solana_rpc_url", "a Solana JSON-RPC URL")
    return RpcBackend(url, gw.timeout_s, blockhash_reuse_s)


def build_solana(settings: Settings, backend=None, book=None):
    """The Solana adapter from keypair files, the mint and the custodial wallet dir;
    its book shares the payment ledger's database."""
    from solders.pubkey import Pubkey

    from integrations.gateways.solana import Ledger, SolanaAdapter, SolanaAsset
    from integrations.gateways.solana.spl import load_keypair

    gw = settings.gateways
    merchant = load_keypair(_need(gw.solana_merchant_keypair_file, "solana_merchant_keypair_file", "a keypair file"))
    escrow = load_keypair(_need(gw.solana_escrow_keypair_file, "solana_escrow_keypair_file", "a keypair file"))
    if gw.solana_mint:
        exp = CURRENCY_EXPONENT[gw.solana_currency]
        asset = SolanaAsset("spl", 10 ** (gw.solana_decimals - exp), Pubkey.from_string(gw.solana_mint),
                            gw.solana_decimals)
    else:
        asset = SolanaAsset("sol", gw.solana_lamports_per_minor)
    return SolanaAdapter(backend or solana_backend(settings), book or Ledger(settings.book_url("solana_db")),
                         merchant=merchant, escrow=escrow, asset=asset,
                         wallets=wallet_directory(gw.solana_wallets_dir), currency=gw.solana_currency)


def wallet_directory(folder: Path | None) -> Callable[[str], Keypair | None]:
    """Custodial wallets: `<folder>/<address>.json` keypair files."""
    from integrations.gateways.solana.spl import load_keypair

    def lookup(address: str) -> Keypair | None:
        path = Path(folder or "/nonexistent") / f"{address}.json"
        return load_keypair(path) if path.is_file() and path.parent == Path(folder or "/nonexistent") else None

    return lookup


_BUILDERS = {"stripe": build_stripe, "amazon_pay": build_amazon_pay, "solana": build_solana}


def build_gateway(name: str, settings: Settings, **kwargs) -> ResilientGateway:
    """One gateway by name, wrapped in the shared resilience policy (`kwargs` go to its
    builder, e.g. the Solana book)."""
    if name not in _BUILDERS:
        raise InputError("SMARTPAY_GATEWAYS__ENABLED", name, f"names among {sorted(_BUILDERS)}")
    return resilient(_BUILDERS[name](settings, **kwargs), settings.gateways)


def build_gateways(settings: Settings) -> dict[str, ResilientGateway]:
    """All configured gateways by name, each with retries and its own circuit breaker."""
    return {name: build_gateway(name, settings) for name in settings.gateways.enabled}
