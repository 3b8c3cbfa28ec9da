"""Refunds: reserved in the store before the gateway call, never more than the
capture, settled from the gateway's answer; and the reward's claw-back."""

from __future__ import annotations

import pytest

from serving.payments.refunds import refund
from serving.ports import GatewayResult as R
from serving.security import ApiError
from tests.serving.payments.conftest import who
from tests.serving.payments.fakes import FakeRewards


def _captured(world, amount_minor: int = 1_000) -> str:
    view = world.run(world.pay(amount_minor=amount_minor))
    assert view.status == "captured"
    return view.payment_id


def _refund(world, pid: str, amount: int | None, key: str = "r1", merchant: str = "m1"):
    return world.run(refund(world.svc, who(merchant), pid, amount, key))


def test_a_partial_refund_goes_to_the_capturing_gateway_and_keeps_the_payment_captured(
        world):
    pid = _captured(world)
    view = _refund(world, pid, 400)
    assert (view.status, view.refunded_minor) == ("captured", 400)
    assert world.gw["alpha"].called("refund") == [
        ("alpha_ch_1", 400, f"{pid}-refund-r1")]
    assert world.processed()[-1] == {"status": "captured", "refunded_minor": 400,
                                     "refund_pending": False}


def test_a_refund_after_failover_goes_to_the_gateway_that_captured(world):
    world.gw["alpha"].script("authorize", R("declined", None, "soft", "try_again"))
    pid = _captured(world)
    _refund(world, pid, 400)
    assert world.gw["alpha"].called("refund") == []
    assert [c[:2] for c in world.gw["beta"].called("refund")] == [("beta_ch_1", 400)]


def test_a_full_refund_marks_the_payment_refunded(world):
    pid = _captured(world)
    view = _refund(world, pid, None)
    assert (view.status, view.refunded_minor) == ("refunded", 1_000)
    assert view.history[-1] == "refunded"
    assert world.processed()[-1]["status"] == "refunded"


def test_refunds_over_the_capture_refuse_the_second_without_calling_the_gateway(world):
    pid = _captured(world)
    _refund(world, pid, 600, key="r1")
    with pytest.raises(ApiError) as exc:
        _refund(world, pid, 600, key="r2")
    assert (exc.value.status, exc.value.fields[0]["field"]) == (422, "amount_minor")
    assert "at most the unrefunded 400" in exc.value.message
    assert len(world.gw["alpha"].called("refund")) == 1
    assert world.store.payments[pid]["refunded_minor"] == 600


def test_a_retried_refund_key_refunds_once(world):
    pid = _captured(world)
    first, again = _refund(world, pid, 400), _refund(world, pid, 400)
    assert first.refunded_minor == again.refunded_minor == 400
    assert len(world.gw["alpha"].called("refund")) == 1


def test_a_refund_the_gateway_answers_unknown_stays_pending_and_holds_its_amount(world):
    pid = _captured(world)
    world.gw["alpha"].script("refund", R("failed", None, "timeout", "read timeout"))
    view = _refund(world, pid, None)
    assert (view.status, view.refunded_minor) == ("captured", 1_000)
    assert world.store.refunds[f"{pid}-refund-r1"]["state"] == "pending"
    assert world.processed()[-1]["refund_pending"] is True
    with pytest.raises(ApiError) as exc:  # the pending amount is still reserved
        _refund(world, pid, 1, key="r2")
    assert exc.value.status == 422


def test_a_refund_whose_outcome_is_unknown_does_not_announce_the_payment_refunded(
        world):
    pid = _captured(world)
    world.gw["alpha"].script("refund", R("failed", None, "timeout", "read timeout"))
    _refund(world, pid, None)
    assert world.processed()[-1]["status"] == world.store.payments[pid]["status"]


def test_a_refund_the_gateway_refuses_answers_502_and_gives_the_amount_back(world):
    pid = _captured(world)
    world.gw["alpha"].script("refund", R("failed", None, "gateway", "balance too low"))
    with pytest.raises(ApiError) as exc:
        _refund(world, pid, 400)
    assert exc.value.status == 502 and "balance too low" in exc.value.message
    assert world.store.payments[pid]["refunded_minor"] == 0
    assert world.store.refunds[f"{pid}-refund-r1"]["state"] == "failed"
    assert _refund(world, pid, 1_000, key="r2").status == "refunded"


def test_retrying_a_refused_refund_with_its_key_is_refused_and_sends_nothing(world):
    pid = _captured(world)
    world.gw["alpha"].script("refund", R("failed", None, "gateway", "try later"))
    with pytest.raises(ApiError):
        _refund(world, pid, 400)
    calls = len(world.gw["alpha"].calls)
    with pytest.raises(ApiError) as err:
        _refund(world, pid, 400)
    assert err.value.status == 409 and len(world.gw["alpha"].calls) == calls
    assert world.gw["alpha"].charges["alpha_ch_1"]["refunded"] == 0
    assert world.store.payments[pid]["refunded_minor"] == 0


def test_a_pending_refund_settled_by_a_retry_is_announced_as_refunded(world):
    pid = _captured(world)
    world.gw["alpha"].script("refund", R("failed", None, "timeout", "read timeout"))
    _refund(world, pid, None)
    view = _refund(world, pid, None)  # a takeover of the same key after a crash
    assert view.status == "refunded"
    assert world.processed()[-1] == {"status": "refunded", "refunded_minor": 1_000,
                                     "refund_pending": False}


def test_only_a_captured_payment_can_be_refunded(world):
    world.fraud.risk, world.fraud.decision = 0.95, "decline"
    pid = world.run(world.pay()).payment_id
    with pytest.raises(ApiError) as exc:
        _refund(world, pid, None)
    assert (exc.value.status, exc.value.code) == (409, "not_refundable")


def test_another_merchant_can_neither_see_nor_refund_the_payment(world):
    pid = _captured(world)
    with pytest.raises(ApiError) as exc:
        _refund(world, pid, 100, merchant="m2")
    assert exc.value.status == 404 and pid in exc.value.message
    assert world.gw["alpha"].called("refund") == []


def test_a_refund_claws_back_the_refunded_share_of_the_reward(world):
    world.svc.rewards = FakeRewards()
    pid = _captured(world, 10_000)
    world.run(world.cache.set("balance", "m1:customer-7", {"balance": 10}))
    view = _refund(world, pid, 5_000)
    assert world.svc.rewards.refunds == [(pid, 5_000, "m1:customer-7")]
    assert (view.reward.amount, view.reward.status) == (5, "escrowed")
    assert world.run(world.cache.get("balance", "m1:customer-7")) is None
