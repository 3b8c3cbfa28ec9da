"""Serving-only settings (rate limits, thresholds, auth) on top of `smartpay.settings`.

Kept here rather than in the shared core because only `serving/` reads them. Every field
can be set with `SMARTPAY_SERVING_<FIELD>`. Reading them has no side effects.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

# The seed's cache TTLs, in seconds.
TTL_S: dict[str, int] = {"risk": 30 * 60, "route": 15 * 60, "balance": 5 * 60, "chat": 60 * 60}


class ServingConfig(BaseSettings):
    """Knobs of the payment API."""

    model_config = SettingsConfigDict(env_prefix="SMARTPAY_SERVING_", extra="ignore")

    fraud_decline_threshold: float = 0.8
    rate_limit_per_s: float = 2_000.0  # per client (JWT subject or address)
    rate_limit_burst: int = 4_000
    jwt_algorithm: str = "HS256"  # RS256 with jwks_url in prod (e.g. Cognito)
    jwks_url: str = ""
    jwt_issuer: str = "smartpay-local"
    jwt_audience: str = "smartpay-api"
    event_retries: int = 3
    redis_prefix: str = "smartpay"  # keys and streams of cache and bus in prod
    idempotency_wait_s: float = 10.0  # how long a duplicate waits for the first
    # Trace every API request (set with a BentoML tracing exporter, e.g. OTLP); off, the
    # request endpoints are left out of the ASGI tracing middleware.
    trace_requests: bool = False
    model_reload_s: float = 30.0
    # How long a fraud check waits, under sustained traffic, for others to share its
    # call to the scorer: a round trip costs more than a row, so company cuts the CPU
    # a check costs (0 = always send at once; a quiet service never waits).
    fraud_linger_ms: float = 5.0  # how often services look for a new champion
    assistant: bool = True  # POST /chat through integrations.rag (loaded on first use)
    rewards_backend: str = ""  # "litesvm" = a SmartReward mint on an in-process chain
    # Factories (`module:function`) of the pieces a PaymentAPI process composes.
    fraud_backend: str = "serving.backends_real:champion_fraud"
    router_backend: str = "serving.backends_real:champion_router"
    extras_factory: str = "serving.standins:runtime_from_environment"
    # Where the gateways are (the local stand-ins' addresses are set by `smartpay serve`).
    stripe_api_base: str = ""
    amazon_pay_endpoint: str = ""
    amazon_pay_key_id: str = ""
    amazon_pay_key_path: str = ""
    solana_backend: str = ""  # "litesvm" (in-process) or a JSON-RPC URL
    gateway_timeout_s: float = 5.0
    breaker_open_s: float = 10.0


@lru_cache(maxsize=1)
def get_serving_config() -> ServingConfig:
    """The process-wide serving config."""
    return ServingConfig()


def reset_serving_config() -> None:
    """Forget the cached config (tests)."""
    get_serving_config.cache_clear()
