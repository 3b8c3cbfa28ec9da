"""Bearer JWT, scopes, merchant isolation, rate limiting and what is never stored."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.serving.conftest import app_client, auth, pay_body, token


def test_a_request_without_a_token_gets_401_naming_the_header(client):
    r = client.post("/pay", json=pay_body(), headers={"Idempotency-Key": "x"})
    assert r.status_code == 401 and "Authorization: Bearer" in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_an_expired_or_forged_token_gets_401(client):
    expired = token("m1", ttl_s=-10)
    r = client.get("/payments/x", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["message"].lower()
    forged = token("m1")[:-4] + "AAAA"
    r = client.get("/payments/x", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


def test_a_read_only_token_cannot_pay(client):
    r = client.post("/pay", json=pay_body(), headers=auth(scopes=["payments:read"], key="k"))
    assert r.status_code == 403 and "payments:write" in r.json()["message"]
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}


def test_only_health_and_docs_are_open(client):
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/admin/dlq").status_code == 401
    assert client.get("/admin/dlq", headers=auth()).status_code == 403


def test_a_merchant_cannot_read_another_merchants_payment(client):
    pid = client.post("/pay", json=pay_body(), headers=auth("m1", key="a")).json()["payment_id"]
    assert client.get(f"/payments/{pid}", headers=auth("m1")).status_code == 200
    other = client.get(f"/payments/{pid}", headers=auth("m2"))
    assert other.status_code == 404 and "m2" in other.json()["message"]
    refund = client.post(f"/payments/{pid}/refund", json={}, headers=auth("m2", key="r"))
    assert refund.status_code == 404
    assert client.get(f"/payments/{pid}", headers=auth("ops", ["admin"])).status_code == 200


def test_websocket_clients_see_only_their_merchants_events(client):
    with client.websocket_connect(f"/ws?token={token('m2')}") as other, \
            client.websocket_connect(f"/ws?token={token('m1')}") as mine:
        other.receive_json(), mine.receive_json()
        client.post("/pay", json=pay_body(), headers=auth("m1", key="a"))
        client.post("/pay", json=pay_body(), headers=auth("m2", key="b"))
        got_mine, got_other = mine.receive_json(), other.receive_json()
    assert got_mine["merchant_id"] == "m1" and got_other["merchant_id"] == "m2"


def test_a_websocket_without_a_valid_token_is_closed(client):
    with pytest.raises(WebSocketDisconnect) as exc:
        with client.websocket_connect("/ws?token=nonsense") as ws:
            ws.receive_json()
    assert exc.value.code == 4401


def test_a_client_over_its_rate_gets_429_with_retry_after(serving_env):
    serving_env.setenv("SMARTPAY_SERVING__RATE_LIMIT_PER_S", "1")
    serving_env.setenv("SMARTPAY_SERVING__RATE_LIMIT_BURST", "3")
    with app_client() as c:
        codes = [c.get("/payments/none", headers=auth()).status_code for _ in range(5)]
        last = c.get("/payments/none", headers=auth())
    assert codes[:3] == [404, 404, 404] and 429 in codes[3:]
    assert last.status_code == 429 and int(last.headers["retry-after"]) >= 1


def test_no_card_number_is_stored_or_logged(client, caplog):
    pan = "4242424242424242"
    body = pay_body(payment_method={"type": "card", "token": pan})
    r = client.post("/pay", json=body, headers=auth(key="pan"))
    assert r.status_code == 422 and pan not in r.text
    r = client.post("/pay", json=pay_body() | {"card_number": pan}, headers=auth(key="pan2"))
    assert r.status_code == 422 and pan not in r.text
    assert client.portal.call(client.app.state.rt.store.count_by_status) == {}
    assert pan not in caplog.text


def test_the_committed_openapi_document_matches_the_app():
    from serving.openapi import DEFAULT_PATH, openapi_yaml

    assert DEFAULT_PATH.read_text() == openapi_yaml(), "run `smartpay openapi`"
