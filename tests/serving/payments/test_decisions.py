"""The payment domain's pure decisions, table by table."""

from __future__ import annotations

import pytest

from serving.payments import decisions as d
from serving.ports import GatewayResult as R


def test_a_fraud_decline_names_the_model_version_and_its_own_threshold():
    assert d.decline_reason(0.91234, "7", 0.217) == (
        "fraud-detector v7 declined it: risk 0.9123 >= its decline threshold 0.2170")
    assert d.decline_reason(0.5, "", None) == "the fraud model declined it (risk 0.5000)"


@pytest.mark.parametrize("result, hold, status", [
    (R("authorized", "ch_1"), True, "review"),     # held for review
    (R("authorized", "ch_1"), False, "failed"),    # a capture that never came
    (R("captured", "ch_1"), True, "captured"),
    (R("declined", None, "hard"), True, "declined"),
    (R("failed", None, "timeout"), True, "pending"),
])
def test_a_held_payment_ends_its_attempts_in_review_only_when_authorized(result, hold,
                                                                          status):
    assert d.settled_status(result, hold)[0] == status


@pytest.mark.parametrize("verdict, result, status", [
    ("capturing", R("captured", "ch_1"), "captured"),
    ("capturing", R("failed", "ch_1", "timeout"), None),   # unknown: sync asks again
    ("capturing", R("pending", "ch_1"), None),
    ("capturing", R("authorized", "ch_1"), None),          # still held
    ("capturing", R("failed", "ch_1", "hard", "authorization expired"), "failed"),
    ("capturing", R("voided", "ch_1"), "voided"),          # the hold was released
    ("voiding", R("voided", "ch_1"), "voided"),
    ("voiding", R("failed", "ch_1", "gateway", "no such hold"), "voided"),
    ("voiding", R("failed", None, "unreachable"), None),
    ("voiding", R("captured", "ch_1"), "captured"),        # the money moved after all
])
def test_a_review_verdict_ends_only_on_a_definite_answer(verdict, result, status):
    assert d.verdict_outcome(verdict, result) == status


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
