"""The review path over fake ports: a payment the model sends to review is authorized
and held; an operator's verdict captures or voids it, exactly once; an unknown outcome
is left to status sync; a hold nobody reviews gets the default at its deadline."""

from __future__ import annotations

import pytest

from serving.ports import GatewayResult as R
from serving.schemas import FraudThresholds
from serving.security import ApiError, Principal

OPERATOR = Principal(subject="ops-ana", merchant_id="ops", scopes=frozenset({"admin"}))


@pytest.fixture
def held(world):
    """A payment sent to review and held on alpha."""
    world.fraud.risk, world.fraud.decision = 0.4, "review"
    view = world.run(world.pay())
    return world, view


def _calls(world, method: str) -> list:
    return [c for g in world.gw.values() for c in g.called(method)]


def test_a_review_decision_authorizes_and_holds_without_capturing(held):
    world, view = held
    assert (view.status, view.history) == ("review", ["created", "authorized", "review"])
    assert _calls(world, "authorize") and _calls(world, "capture") == []
    assert world.gw["alpha"].charges[view.attempts[0].gateway_ref]["state"] == "authorized"
    [event] = world.store.events("payment_review")
    assert event.data["deadline_epoch_s"] == world.clock() + 3600.0
    assert event.data["default_verdict"] == "reject"
    assert world.processed() == []  # not final: no payment_processed yet
    assert world.run(world.svc.held()) == [view]


def test_approve_captures_the_hold_once_and_a_repeat_answers_the_same_payment(held):
    world, view = held
    out = world.run(world.svc.review(OPERATOR, view.payment_id, "approve", "called the buyer"))
    assert out.status == "captured"
    assert out.history[-2:] == ["capturing", "captured"]
    assert out.reason == "approved by ops-ana: called the buyer"
    assert len(_calls(world, "capture")) == 1
    assert [e["status"] for e in world.processed()] == ["captured"]
    trail = world.store.payments[view.payment_id]
    assert trail["status"] == "captured"
    again = world.run(world.svc.review(OPERATOR, view.payment_id, "approve"))
    assert again.status == "captured" and len(_calls(world, "capture")) == 1
    with pytest.raises(ApiError) as exc:  # the other verdict cannot follow
        world.run(world.svc.review(OPERATOR, view.payment_id, "reject"))
    assert (exc.value.status, exc.value.code) == (409, "not_in_review")
    assert _calls(world, "void") == []


def test_reject_voids_the_hold_and_nothing_is_captured(held):
    world, view = held
    out = world.run(world.svc.review(OPERATOR, view.payment_id, "reject"))
    assert (out.status, out.history[-2:]) == ("voided", ["voiding", "voided"])
    assert len(_calls(world, "void")) == 1 and _calls(world, "capture") == []
    assert [e["status"] for e in world.processed()] == ["voided"]
    assert world.run(world.svc.held()) == []


def test_a_verdict_on_a_payment_not_held_is_refused_and_a_missing_one_is_404(world):
    view = world.run(world.pay())  # approved and captured at once
    with pytest.raises(ApiError) as exc:
        world.run(world.svc.review(OPERATOR, view.payment_id, "reject"))
    assert exc.value.status == 409 and "captured" in exc.value.message
    with pytest.raises(ApiError) as exc:
        world.run(world.svc.review(OPERATOR, "pay_missing", "approve"))
    assert exc.value.status == 404


def test_an_unknown_capture_outcome_stays_capturing_until_status_sync_captures_it(held):
    world, view = held
    world.gw["alpha"].script("capture", R("failed", None, "timeout", "read timed out"))
    out = world.run(world.svc.review(OPERATOR, view.payment_id, "approve"))
    assert out.status == "capturing"  # in flight, never failed over or voided
    assert world.run(world.svc.reconcile()) == {"captured": 1}
    assert world.store.payments[view.payment_id]["status"] == "captured"
    assert len(_calls(world, "capture")) == 2  # the lost one and the sync's


def test_a_capture_the_gateway_refuses_for_good_fails_the_payment(held):
    world, view = held
    world.gw["alpha"].script("capture", R("failed", None, "hard", "authorization expired"))
    out = world.run(world.svc.review(OPERATOR, view.payment_id, "approve"))
    assert (out.status, out.reason) == ("failed", "authorization expired")


def test_a_hold_nobody_reviews_gets_the_default_verdict_at_its_deadline(held):
    world, view = held
    world.clock.advance(3599)
    assert world.run(world.svc.resolve_expired_reviews()) == 0
    world.clock.advance(2)
    assert world.run(world.svc.resolve_expired_reviews()) == 1
    p = world.store.payments[view.payment_id]
    assert p["status"] == "voided" and len(_calls(world, "void")) == 1
    assert p["_history"][-2:] == ["voiding", "voided"]
    with pytest.raises(ApiError) as exc:  # too late for the operator
        world.run(world.svc.review(OPERATOR, view.payment_id, "approve"))
    assert exc.value.status == 409


def test_the_deadline_default_can_be_approve(held):
    world, view = held
    world.svc.policy.review_default = "approve"
    world.clock.advance(3601)
    assert world.run(world.svc.resolve_expired_reviews()) == 1
    assert world.store.payments[view.payment_id]["status"] == "captured"


def test_a_review_payment_whose_authorization_was_lost_is_held_by_status_sync(world):
    """Status sync must not capture a payment the model sent to review."""
    world.fraud.risk, world.fraud.decision = 0.4, "review"
    world.gw["alpha"].pre_ref = "alpha_pi_1"
    world.gw["alpha"].script("authorize", R("failed", None, "timeout", "lost"))
    view = world.run(world.pay())
    assert view.status == "pending"
    world.gw["alpha"].charges["alpha_pi_1"] = {"reference": f"{view.payment_id}-1",
                                               "state": "authorized", "amount": 2_500,
                                               "refunded": 0}
    world.clock.advance(120)
    assert world.run(world.svc.reconcile()) == {"review": 1}
    assert world.store.payments[view.payment_id]["status"] == "review"
    assert _calls(world, "capture") == []


def test_the_payment_records_the_model_version_and_thresholds_that_decided(world):
    world.fraud.thresholds = FraudThresholds(review=0.03, decline=0.22)
    view = world.run(world.pay())
    assert view.fraud_model_version == "fake-1"
    assert view.fraud_thresholds == FraudThresholds(review=0.03, decline=0.22)


def test_the_router_learns_a_held_authorization_as_a_success(held):
    world, _ = held
    world.run(world.drain())
    assert [f[2] for f in world.router.feedback_calls] == [True]
