"""Event delivery: retries, then a dead-letter queue an admin can inspect and replay."""

from __future__ import annotations

from tests.serving.conftest import auth, pay_body


def test_a_failing_subscriber_is_retried_then_parked_and_replay_delivers_it(client):
    rt, seen, broken = client.app.state.rt, [], [True]

    async def flaky(event):
        if broken[0]:
            raise ConnectionError("downstream is down")
        seen.append(event.type)

    rt.bus.subscribe("flaky", flaky)
    client.post("/pay", json=pay_body(), headers=auth(key="e1"))
    client.portal.call(rt.bus.drain)
    admin = auth("ops", ["admin"])
    dlq = client.get("/admin/dlq", headers=admin).json()
    assert [d["handler"] for d in dlq] == ["flaky", "flaky"]
    assert [d["event"]["type"] for d in dlq] == ["reward_minted", "payment_processed"]
    assert seen == [] and "smartpay_dlq_depth 2.0" in client.get("/metrics").text
    broken[0] = False
    assert client.post("/admin/dlq/replay", headers=admin).json() == {
        "replayed": 2, "still_failing": 0}
    assert seen == ["reward_minted", "payment_processed"]
    assert client.get("/admin/dlq", headers=admin).json() == []


def _approvals() -> dict[str, float]:
    from serving.observability import REGISTRY

    return {g: REGISTRY.get_sample_value("smartpay_gateway_approvals_total",
                                         {"gateway": g}) or 0.0
            for g in ("stripe", "amazon_pay", "solana")}


def test_metrics_count_payments_per_gateway_and_latency_per_endpoint(client):
    before = _approvals()
    p = client.post("/pay", json=pay_body(), headers=auth(key="m")).json()
    after = _approvals()
    assert {g: after[g] - before[g] for g in after if after[g] != before[g]} == {
        p["gateway"]: 1.0}
    text = client.get("/metrics").text
    assert 'smartpay_request_seconds_count{endpoint="/pay",method="POST",status="200"}' in text
    assert "smartpay_fraud_score_bucket" in text and "smartpay_breaker_open" in text


def test_every_answer_carries_a_request_id(client):
    r = client.get("/health", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(client.get("/health").headers["x-request-id"]) == 16
