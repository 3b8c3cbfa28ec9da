"""Build the configured gateways, each wrapped in the shared resilience layer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from integrations.gateways.config import GatewaySettings
from integrations.gateways.resilience import BreakerConfig, CircuitBreaker, ResilientGateway, RetryPolicy
from smartpay.errors import InputError
from smartpay.money import CURRENCY_EXPONENT
from smartpay.settings import Settings, get_settings

if TYPE_CHECKING:
    from solders.keypair import Keypair


def resilient(adapter, gw: GatewaySettings) -> ResilientGateway:
    """Wrap one adapter with the configured timeouts, retries and its own breaker."""
    policy = RetryPolicy(attempts=gw.gateway_retry_attempts, base_delay_s=gw.gateway_backoff_s,
                         call_timeout_s=gw.gateway_timeout_s * 3)
    breaker = CircuitBreaker(BreakerConfig(window=gw.breaker_window, min_calls=gw.breaker_min_calls,
                                           failure_rate=gw.breaker_failure_rate,
                                           open_seconds=gw.breaker_open_seconds))
    return ResilientGateway(adapter, policy, breaker)


def _need(value, field: str, expected: str):
    if not value:
        raise InputError(f"SMARTPAY_{field.upper()}", value, expected)
    return value


def build_stripe(settings: Settings, gw: GatewaySettings):
    """The Stripe adapter for the configured key and API base."""
    from integrations.gateways.stripe import StripeAdapter, StripeConfig

    return StripeAdapter(StripeConfig(settings.stripe_api_key, gw.stripe_api_base, gw.gateway_timeout_s,
                                      gw.stripe_webhook_secret))


def build_amazon_pay(settings: Settings, gw: GatewaySettings):
    """The Amazon Pay adapter; needs a public key id and a private key file."""
    from integrations.gateways.amazon_pay import AmazonPayAdapter, AmazonPayConfig

    key_id = _need(gw.amazon_pay_public_key_id, "amazon_pay_public_key_id", "the Amazon Pay public key id")
    key_file = _need(gw.amazon_pay_private_key_file, "amazon_pay_private_key_file", "a PEM private key file")
    return AmazonPayAdapter(AmazonPayConfig(key_id, Path(key_file), gw.amazon_pay_region,
                                            gw.amazon_pay_environment, gw.amazon_pay_endpoint, gw.gateway_timeout_s))


def solana_backend(gw: GatewaySettings):
    """LiteSVM in process (default) or JSON-RPC (prod)."""
    from integrations.gateways.solana.chain import LiteSvmBackend, RpcBackend

    return RpcBackend(gw.solana_rpc_url, gw.gateway_timeout_s) if gw.solana_backend == "rpc" else LiteSvmBackend()


def build_solana(settings: Settings, gw: GatewaySettings, backend=None,
                 wallets: Callable[[str], Keypair | None] | None = None):
    """The Solana adapter from keypair files, the mint and the custodial wallet dir."""
    from solders.pubkey import Pubkey

    from integrations.gateways.solana import Ledger, SolanaAdapter, SolanaAsset
    from integrations.gateways.solana.spl import load_keypair

    merchant = load_keypair(_need(gw.solana_merchant_keypair_file, "solana_merchant_keypair_file", "a keypair file"))
    escrow = load_keypair(_need(gw.solana_escrow_keypair_file, "solana_escrow_keypair_file", "a keypair file"))
    if gw.solana_mint:
        exp = CURRENCY_EXPONENT[gw.solana_currency]
        asset = SolanaAsset("spl", 10 ** (gw.solana_decimals - exp), Pubkey.from_string(gw.solana_mint), gw.solana_decimals)
    else:
        asset = SolanaAsset("sol", gw.solana_lamports_per_minor)
    ledger = Ledger(gw.solana_ledger_url or f"sqlite:///{settings.path('gateways', 'solana_ledger.db')}")
    return SolanaAdapter(backend or solana_backend(gw), ledger, merchant=merchant, escrow=escrow, asset=asset,
                         wallets=wallets or wallet_directory(gw.solana_wallets_dir), currency=gw.solana_currency)


def wallet_directory(folder: Path | None) -> Callable[[str], Keypair | None]:
    """Custodial wallets: `<folder>/<address>.json` keypair files."""
    from integrations.gateways.solana.spl import load_keypair

    def lookup(address: str) -> Keypair | None:
        path = Path(folder or "/nonexistent") / f"{address}.json"
        return load_keypair(path) if path.is_file() and path.parent == Path(folder or "/nonexistent") else None

    return lookup


_BUILDERS = {"stripe": build_stripe, "amazon_pay": build_amazon_pay, "solana": build_solana}


def build_gateways(settings: Settings | None = None, gw: GatewaySettings | None = None) -> dict[str, ResilientGateway]:
    """All configured gateways by name, each with retries and its own circuit breaker."""
    settings, gw = settings or get_settings(), gw or GatewaySettings()
    unknown = [g for g in gw.gateways if g not in _BUILDERS]
    if unknown:
        raise InputError("SMARTPAY_GATEWAYS", unknown, f"names among {sorted(_BUILDERS)}")
    if gw.solana_ledger_url == "" and "solana" in gw.gateways:
        settings.path("gateways").mkdir(parents=True, exist_ok=True)
    return {name: resilient(_BUILDERS[name](settings, gw), gw) for name in gw.gateways}
