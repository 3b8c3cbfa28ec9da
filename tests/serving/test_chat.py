"""POST /chat through the real assistant (integrations.rag), grounded on the KB and on
the asking merchant's own payments from the ledger."""

from __future__ import annotations

import pytest

from tests.serving.conftest import auth, pay_body

pytestmark = pytest.mark.slow


def test_chat_answers_with_sources_and_a_repeat_is_served_from_the_cache(client):
    client.post("/pay", json=pay_body(), headers=auth(key="chat-p"))
    q = {"message": "How long does a refund take to reach the customer?"}
    first = client.post("/chat", json=q, headers=auth())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["answer"] and body["sources"] and body["cached"] is False
    again = client.post("/chat", json=q, headers=auth()).json()
    assert again["answer"] == body["answer"] and again["cached"] is True
