"""Amazon Pay specifics: request signing, the sandbox's signature checks, configuration."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from integrations.gateways.amazon_pay import AmazonPayAdapter, AmazonPayConfig
from integrations.gateways.amazon_pay import signing
from integrations.gateways.amazon_pay import transformers as tf
from integrations.gateways.base import ErrorKind, GatewayError
from tests.integrations.gateways.conftest import AMAZON_KEY_ID


def _key(pem: bytes):
    return serialization.load_pem_private_key(pem, None)


def test_canonical_request_should_follow_amazons_layout():
    canonical, signed = signing.canonical_request(
        "post", "/sandbox/v2/refunds", "b=2&a=1", {"X-Amz-Pay-Date": "20240101T000000Z", "accept": "application/json"},
        b"{}")
    lines = canonical.split("\n")
    assert lines[:4] == ["POST", "/sandbox/v2/refunds", "a=1&b=2", "accept:application/json"]
    assert lines[4:7] == ["x-amz-pay-date:20240101T000000Z", "", "accept;x-amz-pay-date"]
    assert signed == "accept;x-amz-pay-date" and lines[7] == signing._sha256_hex(b"{}")


def test_a_signature_should_verify_only_for_the_exact_request(amazon_key_files):
    _, public_pem, private_pem = amazon_key_files
    public = serialization.load_pem_public_key(public_pem)
    for algorithm in (signing.ALGORITHM, signing.ALGORITHM_V2):
        canonical = "GET\n/x\n\n\n\n" + signing._sha256_hex(b"")
        to_sign = signing.string_to_sign(canonical, algorithm)
        sig = signing.sign(_key(private_pem), to_sign, algorithm)
        tampered = signing.string_to_sign(canonical.replace("/x", "/y"), algorithm)
        assert signing.verify(public, to_sign, sig, algorithm)
        assert not signing.verify(public, tampered, sig, algorithm)


def _signed(url: str, private_pem: bytes, body: bytes = b"{}", key_id: str = AMAZON_KEY_ID, **kw) -> dict:
    return signing.signed_headers("POST", url, body, public_key_id=key_id, private_key=_key(private_pem),
                                  region="us", **kw)


def test_the_sandbox_should_answer_401_to_a_tampered_body(amazon_sandbox, amazon_key_files):
    url = f"{amazon_sandbox}/sandbox/v2/checkoutSessions"
    headers = _signed(url, amazon_key_files[2], b'{"storeId":"a"}')
    resp = httpx.post(url, content=b'{"storeId":"b"}', headers=headers)
    assert resp.status_code == 401 and resp.json()["reasonCode"] == "InvalidRequestSignature"


def test_the_sandbox_should_answer_400_missing_header_without_authorization(amazon_sandbox):
    resp = httpx.post(f"{amazon_sandbox}/sandbox/v2/checkoutSessions", json={})
    assert resp.status_code == 400 and resp.json()["reasonCode"] == "MissingHeader"


def test_the_sandbox_should_reject_a_stale_x_amz_pay_date(amazon_sandbox, amazon_key_files):
    url = f"{amazon_sandbox}/sandbox/v2/checkoutSessions"
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    resp = httpx.post(url, content=b"{}", headers=_signed(url, amazon_key_files[2], now=old))
    assert resp.status_code == 401


def test_a_correctly_signed_request_should_be_accepted_with_either_algorithm(amazon_sandbox, amazon_key_files):
    url = f"{amazon_sandbox}/sandbox/v2/checkoutSessions"
    for algorithm in (signing.ALGORITHM, signing.ALGORITHM_V2):
        resp = httpx.post(url, content=b"{}", headers=_signed(url, amazon_key_files[2], algorithm=algorithm))
        assert resp.status_code == 201 and resp.json()["statusDetails"]["state"] == "Open"


def test_an_adapter_with_the_wrong_private_key_should_get_an_auth_error(amazon_sandbox, tmp_path):
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(signing.generate_key_pair()[0])

    async def scenario():
        adapter = AmazonPayAdapter(AmazonPayConfig(AMAZON_KEY_ID, wrong, endpoint=amazon_sandbox))
        try:
            await adapter.create_checkout_session("p-wrong-key", 100, "USD")
        finally:
            await adapter.aclose()

    with pytest.raises(GatewayError) as info:
        asyncio.run(scenario())
    assert (info.value.kind, info.value.http_status, info.value.code) == (ErrorKind.AUTH, 401, "InvalidRequestSignature")


def test_the_idempotency_key_should_replay_the_first_answer(amazon_sandbox, amazon_key_files):
    url = f"{amazon_sandbox}/sandbox/v2/checkoutSessions"
    body = json.dumps({"storeId": "s"}).encode()
    first = httpx.post(url, content=body, headers=_signed(url, amazon_key_files[2], body, idempotency_key="k-1"))
    again = httpx.post(url, content=body, headers=_signed(url, amazon_key_files[2], body, idempotency_key="k-1"))
    assert first.json()["checkoutSessionId"] == again.json()["checkoutSessionId"]


@pytest.mark.parametrize(
    ("key_id", "env", "endpoint", "expected"),
    [
        ("AKEY", "sandbox", None, "https://pay-api.amazon.com/sandbox/v2"),
        ("AKEY", "live", None, "https://pay-api.amazon.com/live/v2"),
        ("LIVE-AKEY", "live", None, "https://pay-api.amazon.com/v2"),
        ("AKEY", "sandbox", "http://127.0.0.1:9", "http://127.0.0.1:9/sandbox/v2"),
    ],
)
def test_base_urls_should_come_from_configuration(key_id, env, endpoint, expected):
    assert AmazonPayConfig(key_id, Path("k.pem"), environment=env, endpoint=endpoint).base_url == expected


def test_amounts_should_convert_between_minor_units_and_amazon_decimal_strings():
    assert tf.to_amount(1999, "USD") == {"amount": "19.99", "currencyCode": "USD"}
    assert tf.to_amount(500, "JPY") == {"amount": "500", "currencyCode": "JPY"}
    assert tf.from_amount({"amount": "19.99", "currencyCode": "USD"}) == 1999


def test_unknown_charge_states_should_map_to_pending():
    charge = {"chargeId": "S01-0000000-0000000-C000000", "statusDetails": {"state": "SomethingNew"},
              "chargeAmount": {"amount": "1.00", "currencyCode": "USD"}}
    assert tf.charge_to_result(charge, "p").status.value == "pending"


def test_a_soft_decline_should_be_retryable_and_keep_amazons_reason_code(amazon_harness):
    async def scenario():
        adapter = amazon_harness.adapter()
        try:
            session = await adapter.create_checkout_session("p-soft", 500, "USD")
            from harness.amazon_pay_sandbox import approve_as_buyer
            from integrations.gateways.base import AuthorizeRequest

            await approve_as_buyer(amazon_harness.sandbox_url, session["checkoutSessionId"], "SoftDeclined")
            await adapter.authorize(AuthorizeRequest(payment_id="p-soft", amount_minor=500, currency="USD",
                                                     payment_method=session["checkoutSessionId"]))
        finally:
            await adapter.aclose()

    with pytest.raises(GatewayError) as info:
        asyncio.run(scenario())
    assert (info.value.kind, info.value.code, info.value.retryable) == (ErrorKind.SOFT_DECLINE, "SoftDeclined", True)
