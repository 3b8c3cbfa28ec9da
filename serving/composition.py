"""The composition root: settings -> stores -> ports -> services, built in one place.

`smartpay serve` (through the BentoML `PaymentAPI`), the demo, the CLI and the tests
all build their runtime here from one `Settings` object, so defaults cannot drift.
local: SQLite ledger (WAL) under the data dir, in-process cache and bus.
prod:  PostgreSQL ledger, Redis cache, Redis Streams bus; `check_production` first.
Sandbox behaviour is loaded only when the harness names it, and never in prod.
"""

from __future__ import annotations

import importlib
from typing import Any

from serving.cache import LocalCache, RedisCache
from serving.events import LocalBus, OutboxRelay, RedisStreamBus
from serving.gateways import Acceptance, GatewayPortAdapter
from serving.ledger import Ledger
from serving.payments.minter import RewardMinter
from serving.payments.service import PaymentService, Policy
from serving.runtime import Runtime
from serving.ratelimit import Rate, RateLimiter, RedisRateLimiter
from serving.security import Verifier
from smartpay.settings import Settings, SettingsError

ECOM = frozenset({"ecommerce"})
# What each gateway takes in production: cards at Stripe, Amazon Pay checkout
# sessions and Solana wallets from the merchant's front end.
ACCEPTS = {
    "stripe": Acceptance(frozenset({"card"})),
    "amazon_pay": Acceptance(frozenset({"amazon_pay"}), channels=ECOM),
    "solana": Acceptance(frozenset({"solana"}), frozenset({"USD"}), ECOM),
}


def load_object(spec: str) -> Any:
    """`package.module:name` -> the object."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def sandbox_hooks(settings: Settings, adapters: dict) -> dict:
    """The harness's sandbox behaviour, when it is configured (never in prod)."""
    spec = settings.gateways.sandbox_hooks
    if not spec:
        return {}
    if settings.profile == "prod":
        raise SettingsError("SMARTPAY_GATEWAYS__SANDBOX_HOOKS",
                            "sandbox behaviour is refused in prod")
    return load_object(spec)(settings, adapters)


async def build_gateway_ports(settings: Settings, store: Ledger) -> dict[str, GatewayPortAdapter]:
    """Every enabled gateway from the one builder, seen through the flow's port."""
    from integrations.gateways import registry

    adapters = {}
    for name in settings.gateways.enabled:
        kwargs = {}
        if name == "solana":  # its book is migrated like every other store
            from integrations.gateways.solana import Ledger as SolanaBook

            kwargs["book"] = SolanaBook(settings.book_url("solana_db"))
            await kwargs["book"].migrate()
        adapters[name] = registry.build_gateway(name, settings, **kwargs)
    hooks = sandbox_hooks(settings, adapters)
    ports = {}
    for name, gw in adapters.items():
        if name in hooks:
            methods, currencies, channels, prepare = hooks[name]
            accepts = Acceptance(frozenset(methods), currencies and frozenset(currencies),
                                 channels and frozenset(channels))
            ports[name] = GatewayPortAdapter(gw, accepts, prepare)
        else:
            ports[name] = GatewayPortAdapter(gw, ACCEPTS[name])
    return ports


async def build_reward_service(settings: Settings):
    """The SmartReward service on the configured node, mint and authority key file,
    its book migrated."""
    from integrations.gateways.registry import solana_backend
    from integrations.rewards import build_reward_service as build

    r = settings.rewards
    if not r.mint or r.authority_keypair_file is None:
        raise SettingsError("SMARTPAY_REWARDS__MINT" if not r.mint else
                            "SMARTPAY_REWARDS__AUTHORITY_KEYPAIR_FILE",
                            "rewards are enabled but not configured (or set "
                            "SMARTPAY_REWARDS__ENABLED=false)")
    if settings.profile != "prod":
        settings.paths.rewards_db.parent.mkdir(parents=True, exist_ok=True)
    # mints reuse a blockhash for a second (each mint is idempotent per payment id)
    service = build(solana_backend(settings, blockhash_reuse_s=1.0),
                    settings.book_url("rewards_db"), r.authority_keypair_file, r.mint,
                    decimals=r.decimals, tokens_per_step=r.tokens_per_step,
                    step_major_units=r.step_major_units,
                    refund_window_s=r.refund_window_s, balance_ttl_s=r.balance_ttl_s)
    await service.ledger.migrate()
    return service


def verifier(settings: Settings) -> Verifier:
    s = settings.serving
    algorithm = "RS256" if s.jwks_url else s.jwt_algorithm
    return Verifier(settings.jwt_secret.get_secret_value(), algorithm, s.jwks_url,
                    s.jwt_issuer, s.jwt_audience)


def limiter(settings: Settings, closers: list) -> RateLimiter:
    """Per-merchant and per-address buckets: in Redis in prod (shared by workers)."""
    s = settings.serving
    rates = (Rate(s.rate_limit_per_s, s.rate_limit_burst),
             Rate(s.ip_rate_limit_per_s, s.ip_rate_limit_burst), s.rate_limit_max_keys)
    if settings.profile != "prod":
        return RateLimiter(*rates)
    shared = RedisRateLimiter(settings.redis_url, s.redis_prefix, *rates)
    closers.append(shared.aclose)
    return shared


async def open_ledger(settings: Settings) -> Ledger:
    """The migrated payment ledger of the profile (the local folder is made here)."""
    if settings.profile != "prod":
        settings.paths.ledger_db.parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.ledger_url)
    await ledger.migrate()
    return ledger


async def build_runtime(settings: Settings, *, fraud, router, gateways: dict | None = None,
                        rewards: Any = "configured", assistant: Any = "configured") -> Runtime:
    """One API process's runtime. `gateways`, `rewards` and `assistant` may be given
    (tests); otherwise they are built from the settings."""
    settings.check_production()
    s, prod = settings.serving, settings.profile == "prod"
    store = await open_ledger(settings)
    cache = RedisCache(settings.redis_url, s.redis_prefix) if prod else LocalCache()
    bus = (RedisStreamBus(settings.redis_url, s.redis_prefix, s.event_retries, dlq=store.dead_letters)
           if prod else LocalBus(s.event_retries, dlq=store.dead_letters))
    relay = OutboxRelay(store, bus.publish, poll_s=s.outbox_poll_s)
    if gateways is None:
        gateways = await build_gateway_ports(settings, store)
    releaser, closers = None, [g.aclose for g in gateways.values() if hasattr(g, "aclose")]
    if rewards == "configured":
        rewards, releaser = await _rewards(settings)
        if rewards is not None:
            closers.append(rewards.service.aclose)
    if assistant == "configured":
        assistant = _assistant(settings, store)
    fresh = fresh_features(settings) if s.fresh_features else None
    if fresh is not None:
        closers.append(fresh.aclose)
        await fresh.warm()
        # once per deployment: N API processes would otherwise make each push N times
        bus.subscribe("fresh_features", fresh.handle, once=True)
    service = PaymentService(store=store, fraud=fraud, router=router, gateways=gateways,
                             cache=cache, rewards=rewards, fresh=fresh,
                             policy=Policy(consistency_window_s=s.consistency_window_s,
                                           review_hold_s=s.review_hold_s,
                                           review_default=s.review_default))
    if rewards is not None:
        service.minter = RewardMinter(service.mint_rewards, max_batch=settings.rewards.mint_batch_max)
    return Runtime(settings=settings, payments=service, store=store, cache=cache, bus=bus,
                   relay=relay, verifier=verifier(settings),
                   limiter=limiter(settings, closers),
                   assistant=assistant, releaser=releaser, closers=closers)


def fresh_features(settings: Settings):
    """The subscriber that pushes each payment's contribution to the online fraud
    features: the profile's event log and Feast store."""
    from features.event_log import open_event_log
    from features.store import open_store
    from serving.fresh_features import FreshFeatures

    return FreshFeatures(open_event_log(settings), lambda: open_store(settings))


async def _rewards(settings: Settings):
    if not settings.rewards.enabled:
        return None, None
    from integrations.rewards import RewardReleaser
    from serving.rewards import RewardsAdapter

    service = await build_reward_service(settings)
    every = settings.rewards.release_every_s
    return RewardsAdapter(service), (RewardReleaser(service, every) if every > 0 else None)


def _assistant(settings: Settings, store: Ledger):
    if not settings.serving.assistant:
        return None
    from serving.assistant import AssistantAdapter

    return AssistantAdapter(store, settings)
