"""Malformed bodies get a 422 naming each bad field, and nothing is written."""

from __future__ import annotations

import pytest

from tests.serving.conftest import auth, pay_body

BAD = [
    ({"amount_minor": -5}, "amount_minor"),
    ({"amount_minor": 12.5}, "amount_minor"),
    ({"amount_minor": "100"}, "amount_minor"),
    ({"currency": "XYZ"}, "currency"),
    ({"payment_method": {"type": "cheque", "token": "chq_1"}}, "payment_method.type"),
    ({"customer_id": -1}, "customer_id"),
    ({"channel": "telepathy"}, "channel"),
]


@pytest.mark.parametrize("change,field", BAD, ids=[f for _, f in BAD])
def test_a_bad_field_is_named_in_a_422_and_no_payment_is_written(client, change, field):
    r = client.post("/pay", json=pay_body(**change), headers=auth(key=f"bad-{field}"))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_error" and field in body["message"]
    assert [f["field"] for f in body["fields"]] == [field]
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}


def test_every_bad_field_of_one_request_is_named(client):
    body = pay_body(amount_minor=0, currency="usd!")
    del body["card_id"]
    r = client.post("/pay", json=body, headers=auth(key="many"))
    assert {f["field"] for f in r.json()["fields"]} == {"amount_minor", "currency", "card_id"}


def test_a_key_used_by_a_refused_request_can_be_used_again(client):
    client.post("/pay", json=pay_body(amount_minor=-1), headers=auth(key="again"))
    r = client.post("/pay", json=pay_body(), headers=auth(key="again"))
    assert r.status_code == 200 and r.json()["status"] == "captured"


def test_a_refund_larger_than_the_payment_is_a_422_and_changes_nothing(client):
    pid = client.post("/pay", json=pay_body(), headers=auth(key="p")).json()["payment_id"]
    r = client.post(f"/payments/{pid}/refund", json={"amount_minor": 10**6},
                    headers=auth(key="too-much"))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "amount_minor"
    assert client.get(f"/payments/{pid}", headers=auth()).json()["refunded_minor"] == 0
