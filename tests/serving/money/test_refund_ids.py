"""Refund ids are also the gateways' idempotency keys: one per request key, always
short enough that no gateway has to cut them."""

from __future__ import annotations

from integrations.gateways.amazon_pay.adapter import _idempotency_key
from serving.payments.refunds import refund_id_for

PID = "pay_0123456789abcdef01234567"


def test_two_long_request_keys_that_differ_only_at_the_end_get_two_refund_ids():
    a = refund_id_for(PID, "order-2026-12-02-customer-0001-refund-attempt-1")
    b = refund_id_for(PID, "order-2026-12-02-customer-0001-refund-attempt-2")
    assert a != b and len(a) <= 64 and len(b) <= 64


def test_a_short_request_key_is_kept_readable_in_the_refund_id():
    assert refund_id_for(PID, "r1") == f"{PID}-refund-r1"


def test_amazon_pay_keys_fit_its_32_characters_and_stay_the_same_for_a_re_send():
    long = refund_id_for(PID, "r1")
    assert len(_idempotency_key(long)) == 32
    assert (
        _idempotency_key(long) == _idempotency_key(long) != _idempotency_key(long + "x")
    )
    assert _idempotency_key("short-key") == "short-key"
