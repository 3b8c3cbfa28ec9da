"""The review hold through the HTTP API on the Stripe stand-in: the champion's own
thresholds decide, a held payment is authorized and not captured at Stripe, an
operator's approve captures it and a reject cancels it, concurrent verdicts move money
once, and a hold nobody reviews is voided at its deadline by the periodic sync."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.serving.conftest import app_client, auth, pay_body
from tests.serving.money.conftest import reconciled, stripe_client

OPS = auth("ops", scopes=("admin",))


@pytest.fixture
def reviewing_app(serving_env):
    """Stripe only; a fraud model whose thresholds send every payment to review."""
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    serving_env.setenv("SMARTPAY_SERVING__FRAUD_BACKEND",
                       "tests.serving.backends:reviewing_fraud")
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
    with app_client() as c:
        yield c


def _held(c) -> dict:
    r = c.post("/pay", json=pay_body(), headers=auth(key=uuid.uuid4().hex))
    assert r.status_code == 200, r.text
    return r.json()


def _intent(standins, p: dict):
    return stripe_client(standins).v1.payment_intents.retrieve(p["attempts"][0]["gateway_ref"])


def test_a_held_payment_is_authorized_at_stripe_and_approve_captures_it(reviewing_app,
                                                                        standins):
    c = reviewing_app
    p = _held(c)
    assert (p["status"], p["fraud_decision"]) == ("review", "review")
    assert p["fraud_model_version"] == "tiny-test"
    assert p["fraud_thresholds"] == {"review": 0.0, "decline": 1.0}
    assert _intent(standins, p).status == "requires_capture"
    queue = c.get("/admin/reviews", headers=OPS).json()
    assert p["payment_id"] in [q["payment_id"] for q in queue]
    assert c.get("/admin/reviews", headers=auth()).status_code == 403
    forbidden = c.post(f"/payments/{p['payment_id']}/review", json={"verdict": "approve"},
                       headers=auth())
    assert forbidden.status_code == 403  # a merchant cannot clear its own hold
    r = c.post(f"/payments/{p['payment_id']}/review",
               json={"verdict": "approve", "note": "buyer confirmed by phone"}, headers=OPS)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "captured"
    assert _intent(standins, p).status == "succeeded"
    assert reconciled(c).ok


@pytest.mark.parametrize("gateway", ["amazon_pay", "solana"])
@pytest.mark.parametrize("verdict, final", [("approve", "captured"), ("reject", "voided")])
def test_holds_on_the_other_gateways_are_captured_or_released(serving_env, gateway,
                                                              verdict, final):
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", f'["{gateway}"]')
    serving_env.setenv("SMARTPAY_SERVING__FRAUD_BACKEND",
                       "tests.serving.backends:reviewing_fraud")
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
    with app_client() as c:
        p = _held(c)
        assert (p["status"], p["gateway"]) == ("review", gateway)
        assert reconciled(c).ok  # a hold is no charge
        r = c.post(f"/payments/{p['payment_id']}/review", json={"verdict": verdict},
                   headers=OPS)
        assert r.json()["status"] == final, r.text
        report = reconciled(c)
        assert report.ok, report.problems
        captured = report.gateways[gateway]["gateway_captured_minor"]
        assert captured == (p["amount_minor"] if final == "captured" else 0)


def test_reject_cancels_the_authorization_at_stripe(reviewing_app, standins):
    c = reviewing_app
    p = _held(c)
    r = c.post(f"/payments/{p['payment_id']}/review", json={"verdict": "reject"},
               headers=OPS)
    assert r.json()["status"] == "voided"
    assert _intent(standins, p).status == "canceled"
    assert reconciled(c).ok


def test_concurrent_opposite_verdicts_move_the_money_exactly_once(reviewing_app, standins):
    c = reviewing_app
    p = _held(c)
    url = f"/payments/{p['payment_id']}/review"
    verdicts = ["approve", "reject"] * 4
    with ThreadPoolExecutor(len(verdicts)) as pool:
        answers = list(pool.map(lambda v: c.post(url, json={"verdict": v}, headers=OPS),
                                verdicts))
    final = c.get(f"/payments/{p['payment_id']}", headers=auth()).json()
    assert final["status"] in ("captured", "voided")
    won = "approve" if final["status"] == "captured" else "reject"
    for v, a in zip(verdicts, answers):
        assert a.status_code == (200 if v == won else 409), (v, a.text)
    intent = _intent(standins, p)
    assert intent.status == ("succeeded" if won == "approve" else "canceled")
    assert [h for h in final["history"] if h in ("capturing", "voiding")] == [
        "capturing" if won == "approve" else "voiding"]


def test_a_bad_verdict_names_the_field_and_a_card_number_in_the_note_is_refused(
        reviewing_app):
    c = reviewing_app
    p = _held(c)
    url = f"/payments/{p['payment_id']}/review"
    r = c.post(url, json={"verdict": "maybe"}, headers=OPS)
    assert r.status_code == 422 and "verdict" in r.text
    r = c.post(url, json={"verdict": "reject", "note": "card 4242 4242 4242 4242"},
               headers=OPS)
    assert r.status_code == 422 and "note" in r.text
    assert c.get(f"/payments/{p['payment_id']}", headers=auth()).json()["status"] == "review"


def test_an_unreviewed_hold_is_voided_at_its_deadline_by_the_periodic_sync(serving_env,
                                                                           standins):
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    serving_env.setenv("SMARTPAY_SERVING__FRAUD_BACKEND",
                       "tests.serving.backends:reviewing_fraud")
    serving_env.setenv("SMARTPAY_SERVING__REVIEW_HOLD_S", "1")
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0.2")
    with app_client() as c:
        p = _held(c)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = c.get(f"/payments/{p['payment_id']}", headers=auth()).json()["status"]
            if status == "voided":
                break
            time.sleep(0.1)
        assert status == "voided"
        assert _intent(standins, p).status == "canceled"
