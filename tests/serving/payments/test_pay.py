"""/pay in the domain service: fraud, eligibility, routing, failover, rewards, and a
key that outlived a crash, over fake ports."""

from __future__ import annotations

import pytest

from serving.ports import GatewayResult as R
from serving.schemas import FraudRequest
from serving.security import ApiError
from tests.serving.payments.fakes import Commit, FakeRewards


def _trail(view) -> list[tuple]:
    return [(a.gateway, a.outcome, a.error_class) for a in view.attempts]


# -- fraud ---------------------------------------------------------------------------
def test_a_fraud_decline_declines_without_calling_a_gateway_and_announces_both_events(
        world):
    world.fraud.risk, world.fraud.decision = 0.95, "decline"
    view = world.run(world.pay())
    assert (view.status, view.history) == ("declined", ["created", "declined"])
    assert all(g.calls == [] for g in world.gw.values())
    assert world.router.decisions == []
    declined = [c for c in world.store.commits if c.status == "declined"]
    assert declined == [Commit("record", view.payment_id, "declined",
                               ("fraud_detected", "payment_processed"))]
    assert [e.type for e in world.store.outbox] == ["payment_created", "fraud_detected",
                                                    "payment_processed"]


def test_every_payment_announces_its_feature_contribution_in_the_commit_creating_it(
        world):
    view = world.run(world.pay())
    created = [c for c in world.store.commits if c.op == "create_payment"]
    assert created == [Commit("create_payment", view.payment_id, "created",
                              ("payment_created",))]
    event = world.store.events("payment_created")[0]
    assert event.id == f"{view.payment_id}:created"
    assert set(event.data) >= {"customer_id", "terminal_id", "amount_minor", "tx_epoch_s"}


def test_a_model_decline_below_the_threshold_is_not_explained_as_reaching_it(world):
    world.fraud.risk, world.fraud.decision = 0.3, "decline"
    view = world.run(world.pay())
    assert view.status == "declined"
    assert "0.300 >= threshold" not in view.reason


def test_a_fraud_scorer_outage_answers_503_and_writes_nothing(world):
    world.fraud.down = True
    with pytest.raises(ApiError) as exc:
        world.run(world.pay())
    assert (exc.value.status, exc.value.code) == (503, "fraud_scorer_unavailable")
    assert exc.value.headers == {"Retry-After": "1"}
    assert world.store.payments == {} and world.store.outbox == []
    assert all(g.calls == [] for g in world.gw.values())
    assert world.router.decisions == []


def test_a_second_score_of_the_same_transaction_comes_from_the_cache(world):
    req = FraudRequest(amount_minor=2_500, currency="USD", customer_id=7,
                       terminal_id=11, card_id=14, tx_epoch_s=1_795_000_000)

    async def twice():
        return await world.svc.score(req), await world.svc.score(req)

    first, second = world.run(twice())
    assert len(world.fraud.calls) == 1
    assert (first.cached, second.cached) == (False, True)
    assert second.risk_score == first.risk_score


# -- eligibility and routing -----------------------------------------------------------
def test_no_eligible_gateway_answers_422_and_writes_nothing(world):
    for g in world.gw.values():
        g.methods = frozenset({"amazon_pay"})
    with pytest.raises(ApiError) as exc:
        world.run(world.pay())
    assert (exc.value.status, exc.value.code) == (422, "no_gateway")
    assert "card payments in USD" in exc.value.message
    assert world.store.payments == {} and world.store.outbox == []
    assert all(g.calls == [] for g in world.gw.values())


def test_only_gateways_that_accept_the_payment_are_offered_and_tried(world):
    world.gw["alpha"].currencies = frozenset({"EUR"})
    view = world.run(world.pay())
    assert (view.status, view.gateway) == ("captured", "beta")
    assert world.router.decisions[0][1] == ["beta"] and world.gw["alpha"].calls == []


def test_the_routers_choice_is_tried_first_and_learns_its_outcome(world):
    world.router.prefer = ["beta"]

    async def pay_and_learn():
        view = await world.pay()
        await world.drain()
        return view

    view = world.run(pay_and_learn())
    assert (view.status, view.gateway) == ("captured", "beta")
    assert world.gw["alpha"].calls == []
    assert world.router.feedback_calls == [("d1", "beta", True)]


def test_a_router_outage_falls_back_to_the_static_order_and_learns_nothing(world):
    world.router.down, world.router.prefer = True, ["beta"]

    async def pay_and_learn():
        view = await world.pay()
        await world.drain()
        return view

    view = world.run(pay_and_learn())
    assert (view.status, view.gateway) == ("captured", "alpha")
    assert world.store.payments[view.payment_id]["route_decision_id"] == "fallback"
    assert world.router.feedback_calls == []


# -- gateway outcomes ------------------------------------------------------------------
def test_a_soft_decline_fails_over_to_the_next_gateway_which_captures(world):
    world.gw["alpha"].script("authorize", R("declined", None, "soft", "try_again"))
    view = world.run(world.pay())
    assert (view.status, view.gateway) == ("captured", "beta")
    assert _trail(view) == [("alpha", "declined", "soft"), ("beta", "captured", None)]
    assert [(e["status"], e["gateway"]) for e in world.processed()] == [
        ("captured", "beta")]


def test_a_hard_decline_stops_without_failover(world):
    world.gw["alpha"].script("authorize", R("declined", None, "hard", "stolen_card"))
    view = world.run(world.pay())
    assert (view.status, view.reason) == ("declined", "stolen_card")
    assert world.gw["beta"].calls == []
    assert [e["status"] for e in world.processed()] == ["declined"]


def test_an_open_breaker_sends_the_payment_to_the_next_gateway(world):
    world.gw["alpha"].breaker = True
    view = world.run(world.pay())
    assert (view.status, view.gateway) == ("captured", "beta")
    assert _trail(view)[0] == ("alpha", "failed", "breaker_open")
    assert world.gw["alpha"].charges == {}


def test_a_call_that_provably_never_reached_the_gateway_fails_over(world):
    world.gw["alpha"].script("authorize", R("failed", None, "unreachable", "refused"))
    view = world.run(world.pay())
    assert (view.status, view.gateway) == ("captured", "beta")


def test_a_prepare_that_fails_fails_over_without_authorizing(world):
    world.gw["alpha"].script("prepare", ConnectionError("session service down"))
    view = world.run(world.pay())
    assert (view.status, view.gateway) == ("captured", "beta")
    assert world.gw["alpha"].called("authorize") == []


def test_a_failed_capture_on_the_last_gateway_voids_the_hold_and_fails_the_payment(
        world):
    del world.gw["beta"]
    world.gw["alpha"].script("capture", R("failed", None, "gateway", "capture refused"))
    view = world.run(world.pay())
    assert view.status == "failed" and "capture failed" in view.reason
    assert world.gw["alpha"].called("void") == [(f"{view.payment_id}-1", "alpha_ch_1")]
    assert world.gw["alpha"].charges["alpha_ch_1"]["state"] == "voided"
    assert [e["status"] for e in world.processed()] == ["failed"]


def test_a_failed_capture_voids_the_hold_and_fails_over_to_the_next_gateway(world):
    world.gw["alpha"].script("capture", R("failed", None, "gateway", "capture refused"))
    view = world.run(world.pay())
    assert (view.status, view.gateway) == ("captured", "beta")
    assert world.gw["alpha"].charges["alpha_ch_1"]["state"] == "voided"
    assert [e["status"] for e in world.processed()] == ["captured"]


def test_a_timeout_after_sending_stays_pending_without_failover_until_reconciled(
        world):
    alpha = world.gw["alpha"]
    alpha.script("authorize", R("failed", None, "timeout", "read timeout"))
    alpha.script("status", R("captured", "alpha_ch_9"))

    async def flow():
        view = await world.pay()
        assert view.status == "pending"
        assert world.gw["beta"].calls == [] and world.processed() == []
        world.clock.advance(5)
        assert await world.svc.reconcile() == {"captured": 1}
        assert await world.svc.reconcile() == {}
        return await world.svc.view(view.payment_id)

    after = world.run(flow())
    assert (after.status, after.gateway) == ("captured", "alpha")
    assert [e["status"] for e in world.processed()] == ["captured"]


def test_a_reference_known_before_the_charge_is_what_status_sync_asks_about(world):
    alpha = world.gw["alpha"]
    alpha.pre_ref = "sess_1"
    alpha.script("authorize", R("failed", None, "timeout", "read timeout"))

    async def flow():
        view = await world.pay()
        await world.svc.reconcile()
        return view

    view = world.run(flow())
    assert alpha.called("status") == [(f"{view.payment_id}-1", "sess_1")]


# -- rewards ---------------------------------------------------------------------------
def test_a_captured_payment_earns_an_escrowed_reward_written_with_its_event(world):
    world.svc.rewards = FakeRewards()
    view = world.run(world.pay(amount_minor=10_000))
    assert (view.reward.status, view.reward.amount) == ("escrowed", 10)
    assert world.store.payments[view.payment_id]["reward"]["status"] == "escrowed"
    assert [c.op for c in world.store.commits if c.events == ("reward_minted",)] == [
        "update_fields"]


def test_a_reward_failure_leaves_the_payment_captured_with_reward_status_failed(world):
    world.svc.rewards = FakeRewards(down=True)
    view = world.run(world.pay())
    assert (view.status, view.reward.status) == ("captured", "failed")
    assert world.store.payments[view.payment_id]["status"] == "captured"
    assert world.store.events("reward_minted") == []


# -- a key that outlived a crash -------------------------------------------------------
def test_a_payment_already_created_under_the_key_is_synced_not_charged_again(world):
    alpha = world.gw["alpha"]
    alpha.script("status", R("captured", "alpha_ch_7"))

    async def crashed_then_retried():
        await world.store.claim("m1", "k1", "hash")
        pid = await world.store.create_payment(
            first_gateway="alpha", merchant_id="m1", amount_minor=2_500, currency="USD",
            method_type="card", method_token="pm_card_visa", user_id="customer-7",
            idem_key="k1")
        return pid, await world.pay(key="k1")

    pid, view = world.run(crashed_then_retried())
    assert (view.payment_id, view.status) == (pid, "captured")
    assert world.fraud.calls == [] and alpha.called("authorize") == []
    assert world.gw["beta"].calls == [] and len(world.store.payments) == 1
    key = world.store.keys[("m1", "k1")]
    assert (key["state"], key["response"]["status"]) == ("done", "captured")
    assert [e["status"] for e in world.processed()] == ["captured"]


def test_paying_again_under_the_key_of_a_captured_payment_charges_nothing(world):
    async def twice():
        return await world.pay(key="k1"), await world.pay(key="k1")

    first, again = world.run(twice())
    assert again.payment_id == first.payment_id and again.status == "captured"
    assert len(world.gw["alpha"].called("authorize")) == 1
    assert len(world.fraud.calls) == 1
    assert len(world.processed()) == 1


def test_every_payment_of_one_segment_gets_its_own_routing_decision_and_feedback(world):
    """No decision is reused: each payment's outcome teaches the router about the
    decision (and propensity) it was actually routed by."""
    views = [world.run(world.pay(key=f"k{i}")) for i in range(3)]
    world.run(world.drain())
    assert len(world.router.decisions) == 3
    assert [f[0] for f in world.router.feedback_calls] == ["d1", "d2", "d3"]
    assert len({v.payment_id for v in views}) == 3


def test_the_decision_log_keeps_each_decision_with_the_routed_attempts_outcome(world):
    """Written with the payment; the outcome is the routed gateway's (a soft decline
    there is a failure for that decision even though beta then captured)."""
    world.gw["alpha"].script("authorize", R("declined", None, "soft", "try again"))
    first = world.run(world.pay(key="k1"))
    second = world.run(world.pay(key="k2"))
    assert (first.status, first.gateway) == ("captured", "beta")
    log = world.store.decisions
    assert sorted(log) == ["d1", "d2"]
    assert {k: log["d1"][k] for k in ("payment_id", "gateway", "propensity",
                                      "policy_version", "success", "outcome")} == {
        "payment_id": first.payment_id, "gateway": "alpha", "propensity": 0.9,
        "policy_version": "fake-vw", "success": False, "outcome": "declined"}
    assert (log["d2"]["payment_id"], log["d2"]["success"]) == (second.payment_id, True)
    assert log["d2"]["latency_ms"] >= 0


def test_a_routed_attempt_with_an_unknown_outcome_is_not_logged_with_a_guess(world):
    world.gw["alpha"].script("authorize", R("failed", None, "timeout", "lost"))
    view = world.run(world.pay())
    assert view.status == "pending"
    assert world.store.decisions["d1"]["success"] is None


def test_a_route_outcome_the_router_cannot_take_is_a_503_to_resend(world):
    from serving.schemas import RouteOutcome
    from serving.security import ApiError

    outcome = RouteOutcome(gateway="alpha", success=True, latency_ms=300.0,
                           amount_minor=900, currency="USD")
    assert world.run(world.svc.route_outcome("d1", outcome)).learned is True
    world.router.down = True
    with pytest.raises(ApiError) as err:
        world.run(world.svc.route_outcome("d1", outcome))
    assert err.value.status == 503 and err.value.headers == {"Retry-After": "1"}
    assert [c[0] for c in world.router.feedback_calls] == ["d1", "d1"]
