"""The embedded default: gateways on local stand-ins, and the runtime built from them.

`running_standins()` starts localstripe and the Amazon Pay sandbox (and the Solana
stand-in once it exists) on free 127.0.0.1 ports and yields the environment variables
that point a PaymentAPI process at them. `runtime_from_environment` is the default
`extras_factory`: it builds the gateways (and rewards, assistant) those variables name.

In the stand-in world every gateway acts as a card acquirer (as in the router's world
config): a card token routed to Amazon Pay is paid by a simulated buyer who approves a
checkout session with that card in the sandbox, which is what `_amazon_buyer` does.
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator


from serving.config import ServingConfig, get_serving_config
from serving.gateways import Acceptance, GatewayPortAdapter
from serving.runtime import Runtime
from smartpay.settings import get_settings

ECOM = frozenset({"ecommerce"})


def _resilient(adapter, cfg: ServingConfig):
    from integrations.gateways.resilience import (
        BreakerConfig, CircuitBreaker, ResilientGateway, RetryPolicy,
    )

    return ResilientGateway(adapter, RetryPolicy(attempts=2, call_timeout_s=cfg.gateway_timeout_s),
                            CircuitBreaker(BreakerConfig(open_seconds=cfg.breaker_open_s)))


def stripe_port(cfg: ServingConfig) -> GatewayPortAdapter:
    from integrations.gateways.stripe.adapter import StripeAdapter, StripeConfig

    key = get_settings().stripe_api_key
    adapter = StripeAdapter(StripeConfig(key, cfg.stripe_api_base, cfg.gateway_timeout_s))
    return GatewayPortAdapter(_resilient(adapter, cfg), Acceptance(frozenset({"card"})))


def _instrument(token: str) -> str:
    """The sandbox test instrument matching a Stripe-style test token."""
    lowered = token.lower()
    if "fail" in lowered or "hard" in lowered:
        return "HardDeclined"
    return "SoftDeclined" if "soft" in lowered else "Visa"


def amazon_pay_port(cfg: ServingConfig) -> GatewayPortAdapter:
    from integrations.gateways.amazon_pay.adapter import AmazonPayAdapter, AmazonPayConfig
    from integrations.gateways.amazon_pay.sandbox import approve_as_buyer

    adapter = AmazonPayAdapter(AmazonPayConfig(cfg.amazon_pay_key_id,
                                               Path(cfg.amazon_pay_key_path),
                                               endpoint=cfg.amazon_pay_endpoint,
                                               timeout_s=cfg.gateway_timeout_s))

    async def _amazon_buyer(reference, amount_minor, currency, method_type, token):
        if method_type == "amazon_pay":  # the merchant's front end already has a session
            return token, token
        session = await adapter.create_checkout_session(reference, amount_minor, currency)
        sid = session["checkoutSessionId"]
        await approve_as_buyer(cfg.amazon_pay_endpoint, sid, _instrument(token))
        return sid, sid

    accepts = Acceptance(frozenset({"card", "amazon_pay"}), channels=ECOM)
    return GatewayPortAdapter(_resilient(adapter, cfg), accepts, _amazon_buyer)


async def solana_port(cfg: ServingConfig) -> GatewayPortAdapter:
    """Solana on LiteSVM in this process (or an RPC URL): USD stablecoin payments.

    A card payment routed here is paid through a simulated on-ramp: a custodial wallet
    funded with the amount (none for a failing test card, so the transfer declines).
    """
    from integrations.gateways.solana.adapter import SolanaAdapter
    from integrations.gateways.solana.chain import LiteSvmBackend, RpcBackend
    from integrations.gateways.solana.ledger import Ledger as SolanaBook
    from integrations.gateways.solana.localnet import setup_localnet

    backend = (LiteSvmBackend() if cfg.solana_backend == "litesvm"
               else RpcBackend(cfg.solana_backend, cfg.gateway_timeout_s))
    chain = await setup_localnet(backend)
    book_path = get_settings().path("ledger", "solana.db")
    book_path.parent.mkdir(parents=True, exist_ok=True)
    book = SolanaBook(f"sqlite:///{book_path}")
    adapter = SolanaAdapter(backend, book, **chain.adapter_kwargs())

    async def _onramp(reference, amount_minor, currency, method_type, token):
        if method_type == "solana":
            return token, None
        funds = 0 if _instrument(token) == "HardDeclined" else amount_minor
        return await chain.new_wallet(funds), None

    accepts = Acceptance(frozenset({"card", "solana"}), frozenset({"USD"}), ECOM)
    return GatewayPortAdapter(_resilient(adapter, cfg), accepts, _onramp)


async def gateways_from_config(cfg: ServingConfig | None = None) -> dict:
    """Every gateway whose address is configured."""
    cfg = cfg or get_serving_config()
    out = {}
    if cfg.stripe_api_base:
        out["stripe"] = stripe_port(cfg)
    if cfg.amazon_pay_endpoint:
        out["amazon_pay"] = amazon_pay_port(cfg)
    if cfg.solana_backend:
        out["solana"] = await solana_port(cfg)
    return out


async def runtime_from_environment(*, fraud, router, **overrides) -> Runtime:
    """The default PaymentAPI runtime: configured gateways, rewards and assistant."""
    from serving.wiring import build_runtime

    cfg = get_serving_config()
    gateways = overrides.pop("gateways", None) or await gateways_from_config(cfg)
    closers = [g.aclose for g in gateways.values()]
    if "rewards" not in overrides and cfg.rewards_backend == "litesvm":
        from serving.rewards import local_rewards

        path = get_settings().path("ledger", "rewards.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        overrides["rewards"] = await local_rewards(f"sqlite:///{path}")
    return build_runtime(fraud=fraud, router=router, gateways=gateways,
                         closers=closers, **overrides)


@contextmanager
def running_standins(data_dir: Path | None = None) -> Iterator[dict[str, str]]:
    """Start the gateway stand-ins; yield the SMARTPAY_SERVING_* variables for them."""
    from integrations.gateways.amazon_pay.sandbox import run_amazon_pay_sandbox
    from integrations.gateways.amazon_pay.signing import generate_key_pair
    from integrations.gateways.stripe.localstripe import run_localstripe

    root = Path(data_dir or get_settings().path("standins"))
    root.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = generate_key_pair()
    key_path = root / "amazon_pay_private.pem"
    key_path.write_bytes(private_pem)
    os.chmod(key_path, 0o600)
    with ExitStack() as stack:
        stripe_base = stack.enter_context(run_localstripe())
        amazon = stack.enter_context(run_amazon_pay_sandbox({"SMARTPAY-LOCAL": public_pem}))
        yield {"SMARTPAY_SERVING_STRIPE_API_BASE": stripe_base,
               "SMARTPAY_SERVING_AMAZON_PAY_ENDPOINT": amazon,
               "SMARTPAY_SERVING_AMAZON_PAY_KEY_ID": "SMARTPAY-LOCAL",
               "SMARTPAY_SERVING_AMAZON_PAY_KEY_PATH": str(key_path),
               "SMARTPAY_SERVING_SOLANA_BACKEND": "litesvm",
               "SMARTPAY_SERVING_REWARDS_BACKEND": "litesvm"}
