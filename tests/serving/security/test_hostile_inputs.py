"""Attacks on every operation of the OpenAPI document: non-finite numbers, ids past
int64, card numbers in ids, blank and long chat messages, oversized bodies. Each gets a
4xx naming the field, never a 500, never an echo of the card number."""

from __future__ import annotations

import pytest

from tests.serving.conftest import auth, pay_body
from tests.serving.security.attacks import (
    BODIES, HUGE_INTS, NON_FINITE, PAN, PAN_SPACED, fields, operations, url_of, with_raw,
)

ALL = ("payments:write", "payments:read", "admin")


@pytest.fixture(scope="module")
def spec():
    from serving.app import create_app

    return create_app().openapi()


def _post(client, path: str, raw: bytes, key: str):
    headers = auth(scopes=ALL, key=key) | {"Content-Type": "application/json"}
    return client.post(url_of(path), content=raw, headers=headers)


def test_every_operation_that_takes_a_body_has_an_attack_body(spec):
    takes_body = {op for op in operations(spec) if op[0] != "get"}
    assert takes_body == set(BODIES), "add a valid body for the new operation"


def test_non_finite_numbers_in_any_field_of_any_operation_are_a_422_naming_it(client,
                                                                              spec):
    seen = 0
    for method, path in BODIES:
        names = list(fields(spec, method, path)) or ["extra"]
        for i, name in enumerate(names):
            raw = NON_FINITE[i % len(NON_FINITE)]
            r = _post(client, path, with_raw(BODIES[method, path], name, raw),
                      f"nf-{path}-{name}")
            assert r.status_code == 422, (path, name, raw, r.text)
            assert [f["field"] for f in r.json()["fields"]] == [name], r.text
            assert name in r.json()["message"]
            seen += 1
    assert seen >= 25
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}


@pytest.mark.parametrize("raw", NON_FINITE)
def test_a_non_finite_number_nested_deep_is_named_by_its_path(client, raw):
    body = pay_body() | {"payment_method": {"type": "card", "token": "pm_card_visa"}}
    text = with_raw(body["payment_method"], "token", raw).decode()
    r = _post(client, "/pay", with_raw(body, "payment_method", text), "nested")
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "payment_method.token"


def test_integers_past_int64_in_any_integer_field_are_a_422_naming_it(client, spec):
    checked = 0
    for (method, path), body in BODIES.items():
        for name, types in fields(spec, method, path).items():
            if "integer" not in types:
                continue
            for n in HUGE_INTS:
                r = _post(client, path, with_raw(body, name, str(n)), f"big-{name}")
                assert r.status_code == 422, (path, name, n, r.text)
                assert [f["field"] for f in r.json()["fields"]] == [name]
                checked += 1
    assert checked >= 2 * 8
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}


@pytest.mark.parametrize("path", ["/payments/{payment_id}", "/rewards/{user_id}/balance",
                                  "/payments/{payment_id}/refund"])
@pytest.mark.parametrize("value", ["1" * 65, PAN, f"pay_{PAN}", f"u-{PAN_SPACED}"])
def test_oversized_or_card_number_ids_in_paths_are_a_422_that_does_not_echo_them(
        client, path, value):
    url = url_of(path, payment_id=value, user_id=value)
    headers = auth(scopes=ALL, key="path")
    r = (client.post(url, json={}, headers=headers) if path.endswith("refund")
         else client.get(url, headers=headers))
    assert r.status_code == 422, r.text
    assert PAN not in r.text and PAN_SPACED not in r.text


@pytest.mark.parametrize("field", ["user_id", "device_id"])
@pytest.mark.parametrize("pan", [PAN, f"u{PAN}x"])
def test_an_id_that_holds_a_card_number_is_refused_without_echoing_it(client, field, pan):
    r = client.post("/pay", json=pay_body(**{field: pan}), headers=auth(key=f"{field}{pan}"))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == field
    assert PAN not in r.text
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}


def test_a_card_number_with_spaces_anywhere_is_not_echoed_in_a_422(client):
    for change in ({"currency": PAN_SPACED}, {"merchant_category": PAN_SPACED},
                   {"payment_method": {"type": "card", "token": PAN_SPACED}},
                   {"payment_method": PAN_SPACED}, {"cvc": "123", "number": PAN}):
        r = client.post("/pay", json=pay_body() | change, headers=auth(key="spaced"))
        assert r.status_code == 422, r.text
        assert PAN not in r.text and PAN_SPACED not in r.text and '"123"' not in r.text


def test_a_body_over_the_size_cap_is_a_413_before_it_is_read(client):
    big = b'{"message": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    r = client.post("/chat", content=big, headers=auth() | {
        "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"

    def chunks():  # no Content-Length: the cap holds while the body streams in
        yield b'{"message": "'
        for _ in range(200):
            yield b"a" * 65_536
        yield b'"}'
    r = client.post("/pay", content=chunks(), headers=auth(key="big") | {
        "Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}


def test_the_size_cap_is_a_setting(serving_env):
    from tests.serving.conftest import app_client

    serving_env.setenv("SMARTPAY_SERVING__MAX_BODY_BYTES", "300")
    with app_client() as c:
        r = c.post("/pay", json=pay_body(user_id="u" * 60, device_id="d" * 60) | {
            "merchant_category": "m" * 32}, headers=auth(key="cap"))
    assert r.status_code == 413 and "300 bytes" in r.json()["message"]


@pytest.mark.parametrize("raw", [b"{", b'{"message": "hi"', b"\xff\xfe{}", b"[" * 5_000,
                                 b'{"message": "' + b"[" * 100 + b'"}x'])
def test_a_body_that_is_not_json_is_a_422_naming_the_body(client, raw):
    r = client.post("/chat", content=raw, headers=auth() | {
        "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "body", r.text


@pytest.mark.parametrize("message", ["", "   ", "\n\t ", "a" * 2_001, "a" * 4_000,
                                     "a" * 4_001])
def test_a_blank_or_too_long_chat_message_is_a_422_naming_the_message(client, message):
    r = client.post("/chat", json={"message": message}, headers=auth())
    assert r.status_code == 422, r.text
    assert r.json()["fields"][0]["field"] == "message"


def test_the_chat_limit_is_the_one_the_assistant_holds():
    from integrations.rag.assistant import MAX_QUESTION_CHARS
    from serving.schemas import CHAT_MAX_CHARS

    assert CHAT_MAX_CHARS == MAX_QUESTION_CHARS


@pytest.mark.slow
def test_a_chat_message_of_the_maximum_length_is_answered(client):
    message = ("How long does a refund take to reach the customer? " * 40)[:2_000]
    r = client.post("/chat", json={"message": message}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["answer"]


@pytest.mark.parametrize("path", ["/fraud", "/pay"])
def test_a_transaction_time_past_2100_is_a_422_not_a_scorer_failure(client, path):
    body = BODIES["post", path] | {"tx_epoch_s": 4_111_111_111_111}
    r = client.post(path, json=body, headers=auth(key="epoch"))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "tx_epoch_s"


@pytest.mark.parametrize("field", ["customer_id", "card_id", "terminal_id"])
def test_a_numeric_id_that_is_a_card_number_is_refused_without_echoing_it(client, field):
    r = client.post("/pay", json=pay_body(**{field: int(PAN)}), headers=auth(key=field))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == field
    assert PAN not in r.text
