"""Stand-ins for the gateway contract suite, each started once per test session.

Every stand-in sits behind its own FaultProxy; adapters under test talk to the proxy.
Tests are plain functions that run one coroutine with `asyncio.run`, building their
adapter inside it (HTTP clients belong to one event loop).
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from pydantic import SecretStr

from integrations.gateways.amazon_pay import AmazonPayAdapter, AmazonPayConfig
from harness.amazon_pay_sandbox import approve_as_buyer
from harness.amazon_pay_sandbox import run_amazon_pay_sandbox
from integrations.gateways.amazon_pay.signing import generate_key_pair
from integrations.gateways.solana import Ledger, RpcBackend, SolanaAdapter, run_solana_rpc, setup_localnet
from integrations.gateways.stripe import StripeAdapter, StripeConfig
from harness.localstripe import run_localstripe
from tests.integrations.gateways.faultproxy import FaultProxy

STRIPE_KEY = "sk_test_SECRET_stripe_key_do_not_log_4242"
AMAZON_KEY_ID = "AMZNKEYID"


class StripeHarness:
    """Stripe adapter against localstripe."""

    name = "stripe"

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.authorize_match = "POST /v1/payment_intents "
        self.capture_match = "/capture"

    def adapter(self, timeout_s: float = 5.0) -> StripeAdapter:
        return StripeAdapter(StripeConfig(SecretStr(STRIPE_KEY), self.proxy.url, timeout_s))

    async def method(self, adapter, payment_id: str, amount: int, capture: bool = True, decline: bool = False) -> str:
        return "pm_card_chargeCustomerFail" if decline else "pm_card_visa"


class AmazonHarness:
    """Amazon Pay adapter against the repo's sandbox server."""

    name = "amazon_pay"

    def __init__(self, proxy: FaultProxy, sandbox_url: str, key_file) -> None:
        self.proxy, self.sandbox_url, self.key_file = proxy, sandbox_url, key_file
        self.authorize_match = "/complete"
        self.capture_match = "/capture"

    def adapter(self, timeout_s: float = 5.0) -> AmazonPayAdapter:
        return AmazonPayAdapter(AmazonPayConfig(AMAZON_KEY_ID, self.key_file, endpoint=self.proxy.url, timeout_s=timeout_s))

    async def method(self, adapter, payment_id: str, amount: int, capture: bool = True, decline: bool = False) -> str:
        session = await adapter.create_checkout_session(payment_id, amount, "USD", capture=capture)
        await approve_as_buyer(self.sandbox_url, session["checkoutSessionId"], "HardDeclined" if decline else "Visa")
        return session["checkoutSessionId"]


class SolanaHarness:
    """Solana adapter over the RPC path: solana-py AsyncClient -> JSON-RPC stand-in."""

    name = "solana"

    def __init__(self, proxy: FaultProxy, chain, ledger_url: str) -> None:
        self.proxy, self.chain, self.ledger_url = proxy, chain, ledger_url
        self.authorize_match = "sendTransaction"
        self.capture_match = "sendTransaction"

    def adapter(self, timeout_s: float = 5.0) -> SolanaAdapter:
        backend = RpcBackend(self.proxy.url, timeout_s)
        self.bound = dataclasses.replace(self.chain, backend=backend)
        book = Ledger(self.ledger_url)  # one per adapter (closed with it): each test has its own loop
        return SolanaAdapter(backend, book, confirm_timeout_s=timeout_s, **self.bound.adapter_kwargs())

    async def method(self, adapter, payment_id: str, amount: int, capture: bool = True, decline: bool = False) -> str:
        return await self.bound.new_wallet(0 if decline else amount * 3)


@pytest.fixture(scope="session")
def stripe_harness():
    with run_localstripe() as url, FaultProxy(url) as proxy:
        yield StripeHarness(proxy)


@pytest.fixture(scope="session")
def amazon_key_files(tmp_path_factory):
    private, public = generate_key_pair()
    folder = tmp_path_factory.mktemp("amazon")
    (folder / "private.pem").write_bytes(private)
    return folder / "private.pem", public, private


@pytest.fixture(scope="session")
def amazon_sandbox(amazon_key_files):
    with run_amazon_pay_sandbox({AMAZON_KEY_ID: amazon_key_files[1]}) as url:
        yield url


@pytest.fixture(scope="session")
def amazon_harness(amazon_sandbox, amazon_key_files):
    with FaultProxy(amazon_sandbox) as proxy:
        yield AmazonHarness(proxy, amazon_sandbox, amazon_key_files[0])


@pytest.fixture(scope="session")
def solana_rpc():
    with run_solana_rpc() as url:
        yield url


@pytest.fixture(scope="session")
def solana_harness(solana_rpc, tmp_path_factory):
    book_url = f"sqlite:///{tmp_path_factory.mktemp('solana') / 'book.db'}"

    async def prepare():
        backend = RpcBackend(solana_rpc)
        chain = await setup_localnet(backend)
        await backend.aclose()
        book = Ledger(book_url)
        await book.migrate()
        await book.aclose()
        return chain

    chain = asyncio.run(prepare())
    with FaultProxy(solana_rpc) as proxy:
        yield SolanaHarness(proxy, chain, book_url)


@pytest.fixture(params=["stripe", "amazon_pay", "solana"])
def harness(request):
    """Each contract test runs once per gateway, with no faults queued."""
    h = request.getfixturevalue(f"{request.param.split('_')[0]}_harness")
    h.proxy.clear()
    yield h
    h.proxy.clear()
