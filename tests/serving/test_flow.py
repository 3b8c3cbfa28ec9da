"""The /pay sequence end to end through the ASGI test client, on real stand-ins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.serving.conftest import app_client, auth, pay_body, token


def test_a_card_payment_goes_through_the_bentoml_composition_and_is_announced(serving_env):
    from serving.services import PaymentAPI

    with TestClient(PaymentAPI.to_asgi()) as c:
        with c.websocket_connect(f"/ws?token={token('m1')}") as ws:
            assert ws.receive_json()["type"] == "subscribed"
            r = c.post("/pay", json=pay_body(), headers=auth(key="flow-1"))
            events = [ws.receive_json(), ws.receive_json()]
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["status"] == "captured" and p["gateway"] in ("stripe", "amazon_pay", "solana")
        assert p["history"] == ["created", "authorized", "captured"]
        assert 0 <= p["risk_score"] < 0.8 and p["fraud_decision"] != "decline"
        # the capture and its event commit first; the reward and its event after
        assert [e["type"] for e in events] == ["payment_processed", "reward_minted"]
        assert {e["payment_id"] for e in events} == {p["payment_id"]}
        # 1 SmartReward per 10 USD, 6 decimals: 25.00 USD earns 2.5 tokens, minted
        # beside the answer into escrow (its event above came once it was written)
        assert p["reward"]["status"] == "minting" and p["reward"]["amount"] == 2_500_000
        got = c.get(f"/payments/{p['payment_id']}", headers=auth()).json()
        assert got["status"] == "captured" and got["attempts"][0]["gateway_ref"]
        assert got["reward"]["status"] == "escrowed" and got["reward"]["signature"]
        bal = c.get("/rewards/customer-7/balance", headers=auth()).json()
        assert bal == {"user_id": "customer-7", "balance": 0, "escrow": 2_500_000,
                       "cached": False}
        again = c.post("/reward", json={"payment_id": p["payment_id"]}, headers=auth())
        assert again.json()["amount"] == 2_500_000  # idempotent: no second mint
        other = c.get("/rewards/customer-7/balance", headers=auth("m2")).json()
        assert other["escrow"] == 0  # another merchant's customer-7 is someone else


def test_fraud_and_route_endpoints_answer_with_a_score_and_a_ranking(client):
    f = client.post("/fraud", json={k: v for k, v in pay_body().items()
                                    if k in ("amount_minor", "currency", "customer_id",
                                             "terminal_id", "card_id", "tx_epoch_s")},
                    headers=auth()).json()
    assert 0 <= f["risk_score"] <= 1 and f["top_features"] and f["model_version"]
    r = client.post("/route", json={"amount_minor": 900, "currency": "USD"},
                    headers=auth()).json()
    assert r["gateway"] == r["ranking"][0] and set(r["ranking"]) == {
        "stripe", "amazon_pay", "solana"}


def test_a_routed_payment_charged_elsewhere_teaches_the_router_its_outcome_once(client):
    r = client.post("/route", json={"amount_minor": 4_200, "currency": "EUR",
                                    "issuing_country": "DE"}, headers=auth()).json()
    outcome = {"gateway": r["gateway"], "success": False, "latency_ms": 640.0,
               "amount_minor": 4_200, "currency": "EUR"}
    url = f"/route/{r['decision_id']}/outcome"
    first = client.post(url, json=outcome, headers=auth())
    assert first.status_code == 200 and first.json() == {"learned": True, "reason": None}
    again = client.post(url, json=outcome, headers=auth()).json()
    assert again["learned"] is False and again["reason"]  # learned once, not twice
    unknown = client.post("/route/nosuchdecision/outcome", json=outcome, headers=auth())
    assert unknown.status_code == 200 and unknown.json()["learned"] is False
    bad = client.post(url, json={**outcome, "latency_ms": -1}, headers=auth())
    assert bad.status_code == 422 and "latency_ms" in bad.text
    assert client.post(url, json=outcome).status_code == 401


def test_a_high_risk_payment_is_declined_before_any_gateway_and_raises_fraud_detected(client):
    with client.websocket_connect(f"/ws?token={token('m1')}") as ws:
        ws.receive_json()
        r = client.post("/pay", json=pay_body(amount_minor=900_000), headers=auth(key="big"))
        events = [ws.receive_json(), ws.receive_json()]
    p = r.json()
    assert p["status"] == "declined" and p["attempts"] == [] and p["gateway"] is None
    assert "declined it: risk" in p["reason"] and "decline threshold" in p["reason"]
    assert [e["type"] for e in events] == ["fraud_detected", "payment_processed"]
    assert events[0]["data"]["top_features"][0]["feature"] == "amount"


def test_a_payment_fails_over_to_the_next_gateway_when_the_first_is_down(serving_env):
    serving_env.setenv("SMARTPAY_GATEWAYS__STRIPE_API_BASE", "http://127.0.0.1:9")  # closed
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe", "amazon_pay"]')
    networks = ["visa", "mastercard", "amex", "discover"]
    categories = ["grocery", "travel", "fuel"]
    with app_client() as c:
        answers = [c.post("/pay", json=pay_body(card_network=n, merchant_category=m,
                                                amount_minor=1000 + i),
                          headers=auth(key=f"fo-{i}")).json()
                   for i, (n, m) in enumerate((n, m) for n in networks for m in categories)]
    assert all(a["status"] == "captured" and a["gateway"] == "amazon_pay" for a in answers)
    failed_over = [a for a in answers if a["attempts"][0]["gateway"] == "stripe"]
    assert failed_over, "the router never ranked the dead gateway first"
    for a in failed_over:
        assert a["attempts"][0]["outcome"] == "failed"
        assert a["attempts"][0]["error_class"] in ("unreachable", "breaker_open")
        assert a["attempts"][1] == a["attempts"][-1] and a["attempts"][1]["outcome"] == "captured"


def test_a_hard_decline_is_not_retried_on_another_gateway(client):
    body = pay_body(payment_method={"type": "card", "token": "pm_card_chargeCustomerFail"})
    p = client.post("/pay", json=body, headers=auth(key="hard")).json()
    assert p["status"] == "declined" and len(p["attempts"]) == 1
    assert p["attempts"][0]["error_class"] == "hard"


def test_a_refund_returns_the_money_and_a_second_refund_is_refused(client):
    p = client.post("/pay", json=pay_body(), headers=auth(key="to-refund")).json()
    pid = p["payment_id"]
    part = client.post(f"/payments/{pid}/refund", json={"amount_minor": 500},
                       headers=auth(key="r1")).json()
    assert part["status"] == "captured" and part["refunded_minor"] == 500
    rest = client.post(f"/payments/{pid}/refund", json={}, headers=auth(key="r2")).json()
    assert rest["status"] == "refunded" and rest["refunded_minor"] == 2_500
    again = client.post(f"/payments/{pid}/refund", json={}, headers=auth(key="r3"))
    assert again.status_code == 409 and "refunded" in again.json()["message"]
    assert rest["history"][-3:] == ["captured", "captured", "refunded"]
    assert rest["reward"]["amount"] == 0 and rest["reward"]["status"] == "clawed_back"


def test_chat_answers_503_with_a_clear_message_when_the_assistant_is_off(serving_env):
    serving_env.setenv("SMARTPAY_SERVING__ASSISTANT", "false")
    with app_client() as c:
        r = c.post("/chat", json={"message": "where is my refund?"}, headers=auth())
    assert r.status_code == 503 and "assistant" in r.json()["message"]
