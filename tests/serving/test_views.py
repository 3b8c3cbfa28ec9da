"""The fraud and rewards pages' numbers: counted by hand on small cases, and through
the API after real payments, each merchant seeing only its own (the models page is
proven in tests/web against a served registry)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from serving.fraudview import fraud_stats
from serving.rewardsview import rewards_view
from tests.serving.conftest import auth, pay_body, rewarded

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_fraud_stats_bin_scores_and_count_declines_and_reviews_per_bucket_by_hand():
    rows = [(at(1), 0.01, "approve", "captured"), (at(2), 0.97, "decline", "declined"),
            (at(12), 0.51, "review", "review"), (at(13), None, None, "failed"),
            (at(25), 1.0, "decline", "declined")]
    s = fraud_stats(rows, T0, window_s=30, bucket_s=10)
    assert (s.payments, s.scored) == (5, 4)
    assert {round(b.lo, 2): b.count for b in s.histogram if b.count} == {
        0.0: 1, 0.5: 1, 0.95: 2}  # a score of exactly 1 lands in the last bin
    assert [(b.payments, b.declined, b.review) for b in s.series] == [
        (2, 1, 0), (2, 0, 1), (1, 1, 0)]
    alert = {a.name: a for a in s.alerts}
    assert alert["FailedPaymentsAbove5Percent"].firing  # 1 of 5 failed
    assert alert["FailedPaymentsAbove5Percent"].value == 0.2
    assert not alert["ReviewBacklog"].firing and alert["ReviewBacklog"].value == 1


def test_a_decline_spike_fires_only_when_recent_declines_outgrow_the_window():
    calm = [(at(i), 0.1, "approve", "captured") for i in range(0, 3000, 100)]
    spike = [(at(3300 + i), 0.99, "decline", "declined") for i in range(6)]
    quiet = fraud_stats(calm, T0, window_s=3600, bucket_s=60)
    loud = fraud_stats(calm + spike, T0, window_s=3600, bucket_s=60)
    assert not {a.name: a for a in quiet.alerts}["FraudDeclineSpike"].firing
    fired = {a.name: a for a in loud.alerts}["FraudDeclineSpike"]
    assert fired.firing and fired.value == 1.0 and fired.threshold < 1.0


def test_rewards_add_up_escrow_releases_and_clawbacks_per_user():
    payments = [{"id": "p3", "user_id": "u2"}, {"id": "p2", "user_id": "u1"},
                {"id": "p1", "user_id": "u1"}]
    book = [{"payment_id": "p1", "state": "released", "units": 5, "clawed_units": 0,
             "release_after": 100.0},
            {"payment_id": "p2", "state": "escrowed", "units": 3, "clawed_units": 2,
             "release_after": 200.0},
            {"payment_id": "p3", "state": "clawed_back", "units": 0, "clawed_units": 7,
             "release_after": 300.0},
            {"payment_id": "other", "state": "escrowed", "units": 99, "clawed_units": 0,
             "release_after": 1.0}]  # not one of these payments: not counted
    v = rewards_view(payments, book, decimals=6)
    users = {u.user_id: u for u in v.users}
    u1 = users["u1"]
    assert (u1.escrowed, u1.released, u1.clawed_back) == (3, 5, 2)
    assert users["u1"].next_release == datetime.fromtimestamp(200, timezone.utc)
    assert (users["u2"].clawed_back, users["u2"].next_release) == (7, None)
    assert [u.user_id for u in v.users] == ["u1", "u2"]
    assert [e.payment_id for e in v.entries] == ["p3", "p2", "p1"]


def test_the_view_endpoints_show_a_merchant_only_its_own_payments_and_users(client):
    def pay(merchant: str, customer: int) -> dict:
        r = client.post("/pay", json=pay_body(customer_id=customer),
                        headers=auth(merchant, key=uuid.uuid4().hex))
        assert r.status_code == 200, r.text
        return r.json()

    mine, theirs = pay("m-one", 101), pay("m-two", 202)
    for p, m in ((mine, "m-one"), (theirs, "m-two")):
        rewarded(lambda path, m=m: client.get(path, headers=auth(m)).json(),
                 p["payment_id"])
    ops = auth("ops", scopes=("admin",))
    one = client.get("/fraud/stats", headers=auth("m-one")).json()
    every = client.get("/fraud/stats?window_s=600&bucket_s=10", headers=ops).json()
    assert one["payments"] == 1 and one["scored"] == 1 and len(one["series"]) == 60
    assert every["payments"] == 2
    users = client.get("/rewards", headers=auth("m-one")).json()["users"]
    assert [u["user_id"] for u in users] == ["customer-101"]
    assert users[0]["escrowed"] == 2_500_000
    everyone = client.get("/rewards", headers=ops).json()["users"]
    all_users = {u["user_id"] for u in everyone}
    assert all_users == {"m-one:customer-101", "m-two:customer-202"}
    assert client.get("/admin/models", headers=auth("m-one")).status_code == 403
