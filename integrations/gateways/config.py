"""Gateway and reward settings (env `SMARTPAY_<FIELD>`), kept apart from the core settings.

Secrets are files or SecretStr values: the Stripe key is the core `stripe_api_key`,
the Amazon Pay private key and the Solana keypairs are paths to secret files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Everything configurable about gateways, resilience and rewards."""

    model_config = SettingsConfigDict(env_prefix="SMARTPAY_", env_file=".env", extra="ignore")

    gateways: list[str] = ["stripe", "amazon_pay", "solana"]

    # Stripe (the API key is Settings.stripe_api_key)
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: SecretStr | None = None

    # Amazon Pay v2
    amazon_pay_public_key_id: str = ""
    amazon_pay_private_key_file: Path | None = None
    amazon_pay_region: str = "us"
    amazon_pay_environment: Literal["sandbox", "live"] = "sandbox"
    amazon_pay_endpoint: str | None = None  # e.g. the local sandbox URL

    # Solana: LiteSVM in process by default, JSON-RPC in prod
    solana_backend: Literal["litesvm", "rpc"] = "litesvm"
    solana_rpc_url: str = "https://api.devnet.solana.com"
    solana_merchant_keypair_file: Path | None = None
    solana_escrow_keypair_file: Path | None = None
    solana_wallets_dir: Path | None = None  # custodial payer keypairs, <address>.json
    solana_mint: str = ""  # stablecoin mint address; empty = SOL transfers
    solana_decimals: int = 6
    solana_lamports_per_minor: int = 50_000  # SOL mode only: a fixed quote
    solana_currency: str = "USD"
    solana_ledger_url: str = ""  # default: SQLite in the data dir

    # Resilience
    gateway_timeout_s: float = 10.0
    gateway_retry_attempts: int = 3
    gateway_backoff_s: float = 0.05
    breaker_window: int = 20
    breaker_min_calls: int = 5
    breaker_failure_rate: float = 0.5
    breaker_open_seconds: float = 10.0

    # Rewards ("SmartReward" SPL token)
    reward_mint: str = ""
    reward_authority_keypair_file: Path | None = None
    reward_decimals: int = 6
    reward_tokens_per_step: int = 1  # whole tokens minted ...
    reward_step_major_units: int = 10  # ... per this many major units paid (1 per 10 USD)
    reward_refund_window_s: float = 14 * 24 * 3600
    reward_balance_ttl_s: float = 300.0
    reward_ledger_url: str = ""
