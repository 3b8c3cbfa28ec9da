"""Idempotency-Key on /pay and refunds: replays, conflicts, and concurrent duplicates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.serving.conftest import auth, pay_body


def _ledger(client):
    return client.app.state.rt.ledger


def test_the_same_key_and_body_returns_the_original_payment_without_a_second_charge(client):
    first = client.post("/pay", json=pay_body(), headers=auth(key="same"))
    second = client.post("/pay", json=pay_body(), headers=auth(key="same"))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert _ledger(client).count_by_status() == {"captured": 1}
    assert len(_ledger(client).get(first.json()["payment_id"])["attempts"]) == 1


def test_the_same_key_with_a_different_body_is_a_409_and_writes_nothing(client):
    client.post("/pay", json=pay_body(), headers=auth(key="k"))
    r = client.post("/pay", json=pay_body(amount_minor=9_999), headers=auth(key="k"))
    assert r.status_code == 409 and r.json()["error"] == "idempotency_conflict"
    assert _ledger(client).count_by_status() == {"captured": 1}


def test_a_key_is_per_merchant_so_two_merchants_may_use_the_same_one(client):
    a = client.post("/pay", json=pay_body(), headers=auth("m1", key="shared")).json()
    b = client.post("/pay", json=pay_body(), headers=auth("m2", key="shared")).json()
    assert a["payment_id"] != b["payment_id"]


def test_pay_without_an_idempotency_key_is_refused_and_writes_nothing(client):
    r = client.post("/pay", json=pay_body(), headers=auth())
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["message"]
    assert _ledger(client).count_by_status() == {}


def test_fifty_concurrent_duplicates_make_exactly_one_charge(client):
    def send(_):
        return client.post("/pay", json=pay_body(), headers=auth(key="burst"))

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(send, range(50)))
    assert {r.status_code for r in answers} == {200}
    ids = {r.json()["payment_id"] for r in answers}
    assert len(ids) == 1
    p = _ledger(client).get(ids.pop())
    assert p["status"] == "captured" and len(p["attempts"]) == 1
    assert _ledger(client).count_by_status() == {"captured": 1}
    rewards = client.app.state.rt.rewards
    assert rewards.service.escrowed(p["reward"] and _wallet("m1", p["user_id"])) == 2_500_000  # one mint


def _wallet(merchant: str, user: str) -> str:
    from serving.rewards import wallet_of

    return wallet_of(f"{merchant}:{user}")


def test_a_refund_replayed_with_its_key_refunds_only_once(client):
    pid = client.post("/pay", json=pay_body(), headers=auth(key="p")).json()["payment_id"]
    one = client.post(f"/payments/{pid}/refund", json={"amount_minor": 700},
                      headers=auth(key="ref"))
    two = client.post(f"/payments/{pid}/refund", json={"amount_minor": 700},
                      headers=auth(key="ref"))
    assert one.json() == two.json() and two.json()["refunded_minor"] == 700
    other = client.post(f"/payments/{pid}/refund", json={"amount_minor": 5},
                        headers=auth(key="ref"))
    assert other.status_code == 409
