"""Concurrent refunds of one payment through the HTTP API, each with its own
Idempotency-Key, asking for more than was captured in all: the ledger and the Stripe
stand-in agree to the minor unit and neither exceeds the capture."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.rewards.service import clawback_target
from tests.serving.conftest import app_client, auth, pay_body
from tests.serving.money.conftest import reconciled, refunded_at_stripe


@pytest.fixture
def stripe_client_app(serving_env):
    """The API with Stripe as its only gateway (the refunds are read back there)."""
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
    with app_client() as c:
        yield c


@pytest.mark.parametrize("n, amount", [(2, 1_600), (5, 900), (20, 400)])
def test_concurrent_refunds_never_refund_more_than_was_captured_in_the_ledger_or_at_stripe(
    stripe_client_app, standins, n, amount
):
    c, run = stripe_client_app, uuid.uuid4().hex[:8]
    paid = c.post(
        "/pay", json=pay_body(amount_minor=3_000), headers=auth(key=f"{run}-p")
    )
    assert paid.status_code == 200 and paid.json()["status"] == "captured", paid.text
    pid = paid.json()["payment_id"]

    def refund(i: int):
        return c.post(
            f"/payments/{pid}/refund",
            json={"amount_minor": amount},
            headers=auth(key=f"{run}-r{i}"),
        )

    with ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(refund, range(n)))
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(ok) == 3_000 // amount, [a.text for a in refused]
    assert all(400 <= a.status_code < 500 for a in refused), [a.text for a in refused]
    view = c.get(f"/payments/{pid}", headers=auth()).json()
    intent = c.portal.call(c.app.state.rt.store.get, pid)["gateway_ref"]
    assert (
        view["refunded_minor"]
        == refunded_at_stripe(standins, intent)
        == len(ok) * amount
    )
    assert view["refunded_minor"] <= 3_000
    report = reconciled(c, refund_min_age_s=0)
    assert report.ok, report.problems
    stripe_totals = report.gateways["stripe"]
    assert (
        stripe_totals["ledger_refunded_minor"]
        == stripe_totals["gateway_refunded_minor"]
    )
    reward = c.portal.call(c.app.state.rt.rewards.service.ledger.must, pid)
    original = reward["units"] + reward["clawed_units"]
    assert original > 0 and reward["clawed_units"] > 0  # minted, then clawed back
    assert reward["clawed_units"] == clawback_target(
        original, view["refunded_minor"], 3_000
    )


def test_a_refund_left_pending_by_a_lost_answer_is_settled_once_by_reconciliation(
    stripe_client_app, standins
):
    c, run = stripe_client_app, uuid.uuid4().hex[:8]
    pid = c.post(
        "/pay", json=pay_body(amount_minor=2_000), headers=auth(key=f"{run}-p")
    ).json()["payment_id"]
    store = c.app.state.rt.store
    refund_id = f"{pid}-refund-lost"
    c.portal.call(store.reserve_refund, pid, refund_id, 700)  # then the process died
    report = reconciled(c, refund_min_age_s=0)
    assert report.refunds == {"succeeded": 1} and report.ok, report.problems
    again = reconciled(c, refund_min_age_s=0)
    assert again.refunds == {} and again.ok
    intent = c.portal.call(store.get, pid)["gateway_ref"]
    assert refunded_at_stripe(standins, intent) == 700
    assert c.get(f"/payments/{pid}", headers=auth()).json()["refunded_minor"] == 700
