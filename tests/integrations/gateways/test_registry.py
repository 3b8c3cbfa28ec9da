"""build_gateways: configuration alone decides endpoints, keys and back-ends."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from solders.keypair import Keypair

from integrations.gateways import AuthorizeRequest, PaymentStatus, ResilientGateway, build_gateways
from integrations.gateways.solana import spl
from smartpay.errors import InputError
from smartpay.settings import GatewaySettings, Settings
from tests.integrations.gateways.conftest import AMAZON_KEY_ID, STRIPE_KEY


def _settings(tmp_path, stripe_harness, amazon_sandbox, amazon_key_files, **over) -> GatewaySettings:
    for name in ("merchant", "escrow"):
        spl.save_keypair(Keypair(), tmp_path / f"{name}.json")
    base = dict(
        stripe_api_base=stripe_harness.proxy.upstream, amazon_pay_public_key_id=AMAZON_KEY_ID,
        amazon_pay_private_key_file=amazon_key_files[0], amazon_pay_endpoint=amazon_sandbox,
        solana_merchant_keypair_file=tmp_path / "merchant.json", solana_escrow_keypair_file=tmp_path / "escrow.json",
        solana_wallets_dir=tmp_path / "wallets")
    return GatewaySettings(**{**base, **over})


def test_build_gateways_should_wrap_every_configured_gateway_with_its_own_breaker(
        data_dir, tmp_path, stripe_harness, amazon_sandbox, amazon_key_files):
    gw = _settings(tmp_path, stripe_harness, amazon_sandbox, amazon_key_files,
                   solana_rpc_url="http://127.0.0.1:9")
    settings = Settings(stripe_api_key=SecretStr(STRIPE_KEY), gateways=gw)

    async def scenario():
        gateways = build_gateways(settings)
        try:
            paid = await gateways["stripe"].authorize(AuthorizeRequest(
                payment_id="reg-1", amount_minor=700, currency="USD", payment_method="pm_card_visa"))
            return gateways, paid
        finally:
            for g in gateways.values():
                await g.aclose()

    gateways, paid = asyncio.run(scenario())
    assert sorted(gateways) == ["amazon_pay", "solana", "stripe"]
    assert all(isinstance(g, ResilientGateway) for g in gateways.values())
    assert len({id(g.breaker) for g in gateways.values()}) == 3
    assert paid.status == PaymentStatus.CAPTURED
    assert gateways["amazon_pay"].inner._base == f"{amazon_sandbox}/sandbox/v2"


def test_a_missing_amazon_pay_key_should_name_the_setting_to_fill(data_dir, tmp_path, stripe_harness,
                                                                  amazon_sandbox, amazon_key_files):
    gw = _settings(tmp_path, stripe_harness, amazon_sandbox, amazon_key_files, amazon_pay_public_key_id="")
    with pytest.raises(InputError) as info:
        build_gateways(Settings(gateways=gw))
    assert info.value.field == "SMARTPAY_GATEWAYS__AMAZON_PAY_PUBLIC_KEY_ID"


def test_an_unknown_gateway_name_should_be_refused(data_dir):
    with pytest.raises(InputError) as info:
        build_gateways(Settings(gateways=GatewaySettings(enabled=["stripe", "paypal"])))
    assert info.value.field == "SMARTPAY_GATEWAYS__ENABLED" and "paypal" in str(info.value)
