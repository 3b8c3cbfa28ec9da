"""The ledger-against-gateway comparison names every way money can disagree."""

from __future__ import annotations

from dataclasses import dataclass

from serving.payments.comparison import compare


@dataclass
class Rec:
    gateway_ref: str
    captured_minor: int
    refunded_minor: int = 0


def _pay(
    pid="p1",
    status="captured",
    amount=1_000,
    refunded=0,
    gateway="stripe",
    ref="pi_1",
    attempts=(("stripe", "p1-1"),),
) -> dict:
    return {
        "id": pid,
        "status": status,
        "amount_minor": amount,
        "refunded_minor": refunded,
        "gateway": gateway,
        "gateway_ref": ref,
        "attempts": [{"gateway": g, "reference": r} for g, r in attempts],
    }


def test_a_ledger_equal_to_the_gateway_has_no_problems_and_equal_totals():
    totals, problems = compare(
        [_pay(refunded=300)], {}, {"stripe": [("p1-1", Rec("pi_1", 1_000, 300))]}
    )
    assert problems == []
    assert (
        totals["stripe"]["ledger_captured_minor"]
        == totals["stripe"]["gateway_captured_minor"]
        == 1_000
    )
    assert (
        totals["stripe"]["ledger_refunded_minor"]
        == totals["stripe"]["gateway_refunded_minor"]
        == 300
    )


def test_a_payment_charged_on_two_gateways_is_a_double_charge():
    p = _pay(attempts=(("stripe", "p1-1"), ("amazon_pay", "p1-2")))
    _, problems = compare(
        [p],
        {},
        {
            "stripe": [("p1-1", Rec("pi_1", 1_000))],
            "amazon_pay": [("p1-2", Rec("S01-x", 1_000))],
        },
    )
    assert problems == ["p1: charged 2 times (stripe pi_1, amazon_pay S01-x)"]


def test_two_charges_under_one_reference_are_a_double_charge():
    _, problems = compare(
        [_pay()],
        {},
        {"stripe": [("p1-1", Rec("pi_1", 1_000)), ("p1-1", Rec("pi_2", 1_000))]},
    )
    assert problems and "charged 2 times" in problems[0]


def test_a_charge_the_ledger_marks_failed_or_pending_is_named():
    _, problems = compare(
        [_pay(status="failed")], {}, {"stripe": [("p1-1", Rec("pi_1", 1_000))]}
    )
    assert problems == ["p1: charged at stripe (pi_1), the ledger says failed"]


def test_a_captured_payment_with_no_charge_at_its_gateway_is_named():
    _, problems = compare([_pay()], {}, {"stripe": []})
    assert problems == ["p1: captured in the ledger, no charge at stripe"]


def test_refunds_are_compared_without_the_ones_still_pending():
    _, ok = compare(
        [_pay(refunded=500)],
        {"p1": 200},
        {"stripe": [("p1-1", Rec("pi_1", 1_000, 300))]},
    )
    _, off = compare(
        [_pay(refunded=500)], {}, {"stripe": [("p1-1", Rec("pi_1", 1_000, 300))]}
    )
    assert ok == [] and off == ["p1: stripe refunded 300, the ledger 500"]


def test_a_charge_under_a_reference_the_ledger_never_made_is_counted_not_blamed():
    totals, problems = compare([], {}, {"stripe": [("other-1", Rec("pi_9", 500))]})
    assert problems == [] and totals["stripe"]["foreign_charges"] == 1
