"""Secrets (Stripe key, Amazon Pay private key, mint authority) never reach logs or errors.

Runs failing and succeeding flows with every logger at DEBUG, then searches the
captured records and every error message for the secrets in all their encodings.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import stripe
from solders.keypair import Keypair

from integrations.gateways.base import AuthorizeRequest, GatewayError
from integrations.gateways.resilience import ResilientGateway, RetryPolicy
from integrations.gateways.solana import LiteSvmBackend
from integrations.rewards import RewardConfig, RewardLedger, RewardService, create_reward_mint
from tests.integrations.gateways.conftest import STRIPE_KEY


def _pem_fragments(pem: bytes) -> list[str]:
    body = b"".join(line for line in pem.splitlines() if b"-----" not in line)
    return [body[i:i + 24].decode() for i in range(0, len(body) - 24, 24)]


def _keypair_encodings(kp: Keypair) -> list[str]:
    raw = bytes(kp)
    return [str(kp), json.dumps(list(raw)), base64.b64encode(raw).decode(), raw[:32].hex()]


async def _stripe_flows(h, errors: list[str]) -> None:
    adapter = h.adapter(timeout_s=0.5)
    gateway = ResilientGateway(adapter, RetryPolicy(attempts=2, base_delay_s=0.01))
    try:
        for decline in (True, False):
            try:
                await gateway.authorize(AuthorizeRequest(payment_id=f"sec-{decline}", amount_minor=100, currency="USD",
                                                         payment_method=await h.method(adapter, "x", 100, decline=decline)))
            except GatewayError as err:
                errors.append(str(err))
        h.proxy.inject("5xx", times=4)
        try:
            await gateway.sync("sec-missing", "pi_missing")
        except GatewayError as err:
            errors.append(str(err))
    finally:
        await gateway.aclose()


async def _amazon_flows(h, errors: list[str]) -> None:
    adapter = h.adapter(timeout_s=0.5)
    try:
        method = await h.method(adapter, "sec-amz", 100, decline=True)
        await adapter.authorize(AuthorizeRequest(payment_id="sec-amz", amount_minor=100, currency="USD",
                                                 payment_method=method))
    except GatewayError as err:
        errors.append(str(err))
    finally:
        await adapter.aclose()


async def _reward_flows(authority: Keypair, errors: list[str]) -> None:
    backend = LiteSvmBackend()
    real = Keypair()
    mint = await create_reward_mint(backend, real)
    await backend.airdrop(authority.pubkey(), 10**9)
    book = RewardLedger()
    await book.migrate()
    svc = RewardService(backend, book, authority, RewardConfig(mint))
    record = await svc.reward_payment("sec-r", str(Keypair().pubkey()), 1000, "USD")  # wrong authority: fails
    errors.append(repr(record))
    await book.aclose()


def test_no_secret_should_appear_in_logs_or_error_messages(caplog, stripe_harness, amazon_harness, amazon_key_files):
    caplog.set_level(logging.DEBUG)
    stripe.log = "debug"
    authority, errors = Keypair(), []
    try:
        asyncio.run(_stripe_flows(stripe_harness, errors))
        asyncio.run(_amazon_flows(amazon_harness, errors))
        asyncio.run(_reward_flows(authority, errors))
    finally:
        stripe.log = None
        stripe_harness.proxy.clear()
    logging.getLogger("probe").debug("public key %s", authority.pubkey())  # positive control
    text = caplog.text + "\n".join(errors) + "\n".join(str(r.args) for r in caplog.records)
    secrets = [STRIPE_KEY, *_pem_fragments(amazon_key_files[2]), *_keypair_encodings(authority)]
    assert len(errors) >= 4 and len(caplog.records) > 10  # the flows really ran and logged
    assert str(authority.pubkey()) in text  # the search does find what is logged
    leaked = [s for s in secrets if s in text]
    assert leaked == []
