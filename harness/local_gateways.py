"""All three gateways against local stand-ins, in process, for the demo and benchmarks.

    async with local_gateways(data_dir) as local:
        gw = local.gateways["amazon_pay"]              # a ResilientGateway
        pm = await local.payment_method("amazon_pay", "p1", 1999, "USD")
        result = await gw.authorize(AuthorizeRequest(payment_id="p1", amount_minor=1999,
                                                     currency="USD", payment_method=pm))

Starts localstripe (fresh state), the Amazon Pay sandbox (with a freshly generated
key pair written to `data_dir/secrets`) and a LiteSVM chain with a stablecoin mint;
everything stops when the block ends.
"""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

from pydantic import SecretStr

from integrations.gateways.amazon_pay import AmazonPayAdapter, AmazonPayConfig
from harness.amazon_pay_sandbox import approve_as_buyer
from harness.amazon_pay_sandbox import run_amazon_pay_sandbox
from integrations.gateways.amazon_pay.signing import generate_key_pair
from smartpay.settings import GatewaySettings
from integrations.gateways.registry import resilient
from integrations.gateways.resilience import ResilientGateway
from integrations.gateways.solana import Ledger, LiteSvmBackend, SolanaAdapter, setup_localnet
from integrations.gateways.solana.localnet import LocalChain
from integrations.gateways.stripe import StripeAdapter, StripeConfig
from harness.localstripe import run_localstripe

DECLINE = {"stripe": "pm_card_chargeCustomerFail", "amazon_pay": "HardDeclined"}


@dataclass
class LocalGateways:
    """Running stand-ins and the adapters pointed at them."""

    gateways: dict[str, ResilientGateway]
    amazon_endpoint: str
    chain: LocalChain
    wallet_funds_minor: int = 10_000_000
    _wallet: str | None = field(default=None, repr=False)

    async def payment_method(self, gateway: str, payment_id: str, amount_minor: int, currency: str,
                             *, capture: bool = True, decline: bool = False) -> str:
        """A payment method the stand-in accepts (or hard-declines when `decline`)."""
        if gateway == "stripe":
            return DECLINE["stripe"] if decline else "pm_card_visa"
        if gateway == "amazon_pay":
            adapter = self.gateways["amazon_pay"].inner
            session = await adapter.create_checkout_session(payment_id, amount_minor, currency, capture=capture)
            instrument = DECLINE["amazon_pay"] if decline else "Visa"
            await approve_as_buyer(self.amazon_endpoint, session["checkoutSessionId"], instrument)
            return session["checkoutSessionId"]
        if decline:
            return await self.chain.new_wallet(0)
        if self._wallet is None:
            self._wallet = await self.chain.new_wallet(self.wallet_funds_minor)
        return self._wallet


@asynccontextmanager
async def local_gateways(data_dir: Path, gw: GatewaySettings | None = None) -> AsyncIterator[LocalGateways]:
    """Start every stand-in and yield resilient adapters pointed at them."""
    gw = gw or GatewaySettings()
    secrets = Path(data_dir) / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    private, public = generate_key_pair()
    key_file = secrets / "amazon_pay_private.pem"
    key_file.write_bytes(private)
    key_file.chmod(0o600)
    with ExitStack() as stack:
        stripe_base = stack.enter_context(run_localstripe())
        amazon = stack.enter_context(run_amazon_pay_sandbox({"LOCALKEY": public}))
        async with AsyncExitStack() as astack:
            chain = await setup_localnet(LiteSvmBackend())
            book = Ledger()
            await book.migrate()
            adapters = [
                StripeAdapter(StripeConfig(SecretStr("sk_test_local"), stripe_base, gw.timeout_s)),
                AmazonPayAdapter(AmazonPayConfig("LOCALKEY", key_file, endpoint=amazon, timeout_s=gw.timeout_s)),
                SolanaAdapter(chain.backend, book, **chain.adapter_kwargs()),
            ]
            gateways = {a.name: resilient(a, gw) for a in adapters}
            for g in gateways.values():
                astack.push_async_callback(g.aclose)
            yield LocalGateways(gateways, amazon, chain)
