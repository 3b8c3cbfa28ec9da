"""Build a `Runtime` for the active profile: ledger, cache, bus, auth, gateways, rewards.

local: SQLite (WAL) ledger under the data dir, in-process cache and bus.
prod:  PostgreSQL ledger, Redis cache, Redis Streams bus.
The model ports (fraud, router) are given by the caller: the BentoML `PaymentAPI`
passes its `bentoml.depends` services, tests may pass in-process service instances.
"""

from __future__ import annotations

from serving.cache import LocalCache, RedisCache
from serving.config import ServingConfig, get_serving_config
from serving.events import LocalBus, RedisStreamBus
from serving.ledger import Ledger
from serving.ports import AssistantPort, FraudPort, GatewayPort, RewardsPort, RouterPort
from serving.runtime import Runtime
from serving.security import RateLimiter, Verifier
from smartpay.settings import Settings, get_settings


def ledger_url(settings: Settings) -> str:
    """PostgreSQL in prod; a SQLite file in the data dir locally."""
    if settings.profile == "prod":
        return settings.postgres_url
    path = settings.path("ledger", "ledger.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def open_ledger(settings: Settings | None = None) -> Ledger:
    """The migrated ledger of the active profile."""
    ledger = Ledger(ledger_url(settings or get_settings()))
    ledger.migrate()
    return ledger


def verifier(settings: Settings, cfg: ServingConfig) -> Verifier:
    algorithm = "RS256" if cfg.jwks_url else cfg.jwt_algorithm
    return Verifier(settings.jwt_secret.get_secret_value(), algorithm, cfg.jwks_url,
                    cfg.jwt_issuer, cfg.jwt_audience)


def build_runtime(*, fraud: FraudPort, router: RouterPort,
                  gateways: dict[str, GatewayPort],
                  rewards: RewardsPort | None = None, assistant: AssistantPort | None = None,
                  settings: Settings | None = None, config: ServingConfig | None = None,
                  closers: list | None = None) -> Runtime:
    """Compose one API process's runtime from its ports and the profile's stores."""
    settings, cfg = settings or get_settings(), config or get_serving_config()
    prod = settings.profile == "prod"
    cache = RedisCache(settings.redis_url, cfg.redis_prefix) if prod else LocalCache()
    bus = (RedisStreamBus(settings.redis_url, cfg.redis_prefix, cfg.event_retries) if prod
           else LocalBus(cfg.event_retries))
    ledger = open_ledger(settings)
    if assistant is None and cfg.assistant:
        from serving.assistant import AssistantAdapter

        assistant = AssistantAdapter(ledger)
    return Runtime(config=cfg, ledger=ledger, cache=cache, bus=bus,
                   verifier=verifier(settings, cfg),
                   limiter=RateLimiter(cfg.rate_limit_per_s, cfg.rate_limit_burst),
                   fraud=fraud, router=router, gateways=gateways, rewards=rewards,
                   assistant=assistant, closers=list(closers or []))
