"""The payment domain's pure decisions, table by table."""

from __future__ import annotations

import pytest

from serving.payments import decisions as d
from serving.ports import GatewayResult as R


@pytest.mark.parametrize("decision, risk, verdict", [
    ("approve", 0.10, "approve"),
    ("review", 0.50, "review"),
    ("decline", 0.10, "decline"),   # the model's own decline stands
    ("approve", 0.80, "decline"),   # at the threshold declines
    ("review", 0.95, "decline"),
    ("approve", 0.7999, "approve"),
])
def test_fraud_verdict_declines_on_the_model_or_at_the_threshold(decision, risk,
                                                                 verdict):
    assert d.fraud_verdict(decision, risk, decline_at=0.8) == verdict


@pytest.mark.parametrize("result, step", [
    (R("captured", "ch_1"), "done"),
    (R("pending", "ch_1"), "pending"),
    (R("failed", None, "timeout"), "pending"),       # sent, answer lost
    (R("declined", None, "soft"), "failover"),
    (R("failed", None, "breaker_open"), "failover"),
    (R("failed", None, "unreachable"), "failover"),  # provably never sent
    (R("failed", None, "gateway"), "failover"),
    (R("declined", None, "hard"), "stop"),
    (R("declined", None, "gateway"), "stop"),
    (R("voided", "ch_1"), "stop"),
])
def test_only_a_definite_retryable_answer_fails_over_and_an_unknown_one_waits(result,
                                                                             step):
    assert d.next_step(result) == step


@pytest.mark.parametrize("result, status, reason", [
    (None, "failed", "no gateway was tried"),
    (R("captured", "ch_1"), "captured", None),
    (R("pending", None, None, "settling"), "pending", "settling"),
    (R("failed", None, "timeout"), "pending", "the gateway's answer is unknown"),
    (R("declined", None, "hard", "do_not_honor"), "declined", "do_not_honor"),
    (R("declined", None, "soft", "try_again"), "failed", "try_again"),
    (R("failed", None, "breaker_open"), "failed", "failed"),
])
def test_settled_status_is_declined_only_on_a_hard_decline_and_pending_when_unknown(
        result, status, reason):
    assert d.settled_status(result) == (status, reason)


def test_a_settled_reason_fits_the_ledger_column():
    _, reason = d.settled_status(R("declined", None, "hard", "x" * 400))
    assert len(reason) == 250


@pytest.mark.parametrize("requested, amount, refunded, asked", [
    (None, 1_000, 0, 1_000),
    (None, 1_000, 300, 700),   # all that is left
    (200, 1_000, 300, 200),
    (900, 1_000, 300, 900),    # over the rest: the store refuses it, not this
])
def test_a_refund_asks_for_what_is_left_when_no_amount_is_given(requested, amount,
                                                                refunded, asked):
    assert d.refund_amount(requested, amount, refunded) == asked


@pytest.mark.parametrize("age_s, state, error", [
    (0.0, "pending", "timeout"),
    (59.9, "pending", "timeout"),
    (60.0, "failed", "gateway"),   # the window has passed: never charged
    (3_600.0, "failed", "gateway"),
])
def test_not_found_is_unknown_inside_the_consistency_window_and_failed_after(
        age_s, state, error):
    got = d.synced_result(R("not_found"), age_s, consistency_window_s=60.0)
    assert (got.state, got.error_class) == (state, error)


@pytest.mark.parametrize("found", [R("captured", "ch_1"), R("pending", "ch_1"),
                                   R("declined", "ch_1", "hard")])
def test_a_found_answer_is_read_as_it_is_whatever_its_age(found):
    assert d.synced_result(found, 0.0, 60.0) is found
    assert d.synced_result(found, 1e9, 60.0) is found
