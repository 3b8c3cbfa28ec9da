"""POST /chat through the real assistant (integrations.rag), grounded on the KB and on
the asking merchant's own payments from the ledger."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.serving.conftest import auth, pay_body

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def saved_kb_index(data_dir, request):
    """The KB index the assistant tests keep in pytest's cache, when one was built: the
    assistant checks its digest against the KB and rebuilds a stale one itself."""
    cached = Path(request.config.cache.mkdir("rag_kb_index"))
    if not (cached / "meta.json").exists():
        return False
    shutil.copytree(cached, data_dir / "kb" / "index", dirs_exist_ok=True)
    return True


def test_chat_answers_with_sources_and_a_repeat_is_served_from_the_cache(client):
    paid = client.post("/pay", json=pay_body(), headers=auth(key="chat-p")).json()
    # The merchant's payments (with their rewards) are part of the answer's key: wait
    # until the minter has written this payment's reward and finished it, so the repeat
    # asks about the same facts. Until the minter writes, the stored reward is None.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        view = client.get(f"/payments/{paid['payment_id']}", headers=auth()).json()
        if view["reward"] and view["reward"].get("status") != "minting":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the reward was not minted in 20 s: {view['reward']}")
    q = {"message": "How long does a refund take to reach the customer?"}
    first = client.post("/chat", json=q, headers=auth())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["answer"] and body["sources"] and body["cached"] is False
    again = client.post("/chat", json=q, headers=auth()).json()
    assert again["answer"] == body["answer"] and again["cached"] is True


def test_a_users_chat_sees_that_users_payments_and_never_another_users(client,
                                                                      saved_kb_index):
    # With a saved index the assistant was loaded while the API started.
    assert (client.app.state.rt.assistant._assistant is not None) == saved_kb_index
    paid = {}
    for n, (user, amount) in enumerate([("u_alice", 1_234), ("u_bob", 98_765)]):
        r = client.post("/pay", json=pay_body(user_id=user, amount_minor=amount),
                        headers=auth(key=f"chat-scope-{n}"))
        paid[user] = r.json()["payment_id"]
    for me, other in [("u_alice", "u_bob"), ("u_bob", "u_alice")]:
        q = {"message": "What is the status of my payment?", "user_id": me}
        r = client.post("/chat", json=q, headers=auth())
        assert r.status_code == 200, r.text
        assert paid[me] in str(r.json()["sources"])
        assert paid[other] not in r.text
        assert ("987.65" in r.text) == (me == "u_bob")
        # ...and what a captured payment earned (1 token per 10 USD, pro rata), only
        # for its own user; a declined one earned nothing.
        earned = {"u_alice": "1.234 SmartReward", "u_bob": "98.765 SmartReward"}
        views = {u: client.get(f"/payments/{p}", headers=auth()).json()
                 for u, p in paid.items()}
        for user, words in earned.items():
            rewarded = bool((views[user]["reward"] or {}).get("amount"))
            assert (words in r.text) == (rewarded and user == me), r.text
    assert any((v["reward"] or {}).get("amount") for v in views.values())
