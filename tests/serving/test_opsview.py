"""The gateway page's numbers: per-bucket approval rates and routed latency counted
by hand on a small case, and through the API after real payments."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from serving.opsview import gateway_stats
from tests.serving.conftest import auth, pay_body

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_buckets_count_approvals_and_routed_latency_by_hand():
    attempts = [("stripe", "captured", at(1)), ("stripe", "declined", at(2)),
                ("stripe", "failed", at(12)), ("stripe", "pending", at(13)),  # not counted
                ("solana", "captured", at(14)), ("stripe", "captured", at(31))]  # outside
    decisions = [("stripe", at(1), 100.0, 0.8, 0.8), ("stripe", at(2), 300.0, 0.8, 0.8),
                 ("solana", at(14), 50.0, 0.1, 0.8), ("stripe", at(12), None, 0.8, 0.8)]
    s = gateway_stats(attempts, decisions, {"stripe": True, "amazon_pay": False}, T0,
                      window_s=30, bucket_s=10)
    view = {g.name: g for g in s.gateways}
    assert list(view) == ["amazon_pay", "solana", "stripe"]
    stripe = view["stripe"]
    assert [(b.attempts, b.approved) for b in stripe.series] == [(2, 1), (1, 0), (0, 0)]
    assert [b.approval_rate for b in stripe.series] == [0.5, 0.0, None]
    assert [b.mean_latency_ms for b in stripe.series] == [200.0, None, None]
    assert (stripe.breaker, stripe.attempts, stripe.approval_rate) == ("open", 3, 0.3333)
    assert (stripe.routed_share, view["solana"].routed_share) == (0.75, 0.25)
    assert s.exploration_share == 0.25 and s.decisions == 4
    assert view["amazon_pay"].approval_rate is None and view["amazon_pay"].attempts == 0


def test_the_gateway_stats_endpoint_is_for_operators_and_counts_real_payments(client):
    for i in range(4):
        client.post("/pay", json=pay_body(amount_minor=1_500 + i),
                    headers=auth("m1", key=uuid.uuid4().hex))
    ops = auth("ops", scopes=("admin",))
    s = client.get("/admin/gateways?window_s=600&bucket_s=10", headers=ops).json()
    assert len(s["gateways"][0]["series"]) == 60 and s["decisions"] == 4
    assert sum(g["attempts"] for g in s["gateways"]) >= 4
    assert {g["breaker"] for g in s["gateways"]} == {"closed"}
    assert client.get("/admin/gateways", headers=auth("m1")).status_code == 403
    bad = client.get("/admin/gateways?window_s=86400&bucket_s=1", headers=ops)
    assert bad.status_code == 422 and "bucket_s" in bad.text
