"""Finding 10: a WebSocket lives no longer than its token (close 1008 at `exp`, even
while events flow), and junk from the client gets a close frame with the code RFC 6455
defines for it (1003 binary, 1007 not JSON, 1009 too big) instead of a dropped
connection. After the close the hub holds no client, so no event follows."""

from __future__ import annotations

import time

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.serving.conftest import auth, pay_body, token


def _closed_code(ws) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        for _ in range(100):
            ws.receive_json()
    return closed.value.code


def test_a_websocket_is_closed_with_1008_when_its_token_expires_while_events_flow(
        client):
    hub = client.app.state.hub
    events, t0 = [], time.monotonic()
    with client.websocket_connect(f"/ws?token={token('m1', ttl_s=2)}") as ws:
        assert ws.receive_json()["type"] == "subscribed"
        with pytest.raises(WebSocketDisconnect) as closed:
            for i in range(200):  # keep events flowing past the expiry
                r = client.post("/pay", json=pay_body(), headers=auth(key=f"exp-{i}"))
                assert r.status_code == 200, r.text
                events.append(ws.receive_json())
                events.append(ws.receive_json())
        elapsed = time.monotonic() - t0
    assert closed.value.code == 1008 and "expired" in closed.value.reason
    kinds = {e["type"] for e in events}
    assert events and kinds <= {"payment_processed", "reward_minted"}
    assert 0.5 < elapsed < 6
    assert hub.size == 0  # out of the fan-out: later events reach nobody


def test_a_websocket_with_a_long_token_stays_open_and_gets_events(client):
    with client.websocket_connect(f"/ws?token={token('m1')}") as ws:
        ws.receive_json()
        client.post("/pay", json=pay_body(), headers=auth(key="long"))
        assert ws.receive_json()["type"] in {"payment_processed", "reward_minted"}


@pytest.mark.parametrize("send,code", [
    (lambda ws: ws.send_bytes(b"\x00\x01binary"), 1003),
    (lambda ws: ws.send_text("{not json"), 1007),
    (lambda ws: ws.send_text("x" * 70_000), 1009),
])
def test_junk_from_the_client_gets_a_close_frame_with_its_code(client, send, code):
    with client.websocket_connect(f"/ws?token={token('m1')}") as ws:
        ws.receive_json()
        send(ws)
        assert _closed_code(ws) == code
    assert client.app.state.hub.size == 0


def test_a_json_message_that_is_not_a_subscription_gets_an_error_and_the_socket_stays(
        client):
    with client.websocket_connect(f"/ws?token={token('m1')}") as ws:
        ws.receive_json()
        for junk in ('[1, 2]', '{"subscribe": "payment_processed"}',
                     '{"subscribe": [{"a": 1}]}', '{"subscribe": ["nope"]}', "null"):
            ws.send_text(junk)
            assert ws.receive_json()["type"] == "error", junk
        ws.send_text('{"subscribe": ["payment_processed"]}')
        subscribed = {"type": "subscribed", "types": ["payment_processed"]}
        assert ws.receive_json() == subscribed
