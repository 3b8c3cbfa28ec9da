"""Crashes between the gateway and the ledger: a charge made just before the process
died is found behind more than a hundred other intents, and a key claimed just before
it died is released; the reconciliation report then finds the ledger equal to the
gateway's records."""

from __future__ import annotations

import uuid

from serving.idempotency import body_hash
from serving.schemas import PayRequest
from tests.serving.conftest import app_client, auth, pay_body
from tests.serving.money.conftest import reconciled, stripe_client


def _claim_and_create(c, key: str, body: dict) -> str:
    """What /pay writes before calling a gateway: the key claim, the payment."""
    rt, req = c.app.state.rt, PayRequest(**body)
    claim = c.portal.call(
        rt.store.claim, "m1", key, body_hash("pay", req.model_dump(mode="json"))
    )
    assert claim.kind == "new"
    return c.portal.call(
        lambda: rt.store.create_payment(
            merchant_id="m1",
            amount_minor=req.amount_minor,
            currency=req.currency,
            method_type="card",
            method_token="pm_card_visa",
            user_id="u1",
            idem_key=key,
        )
    )


def test_a_charge_made_just_before_a_crash_is_found_behind_a_hundred_intents_and_recorded(
    serving_env, standins
):
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
    key, body = f"crash-{uuid.uuid4().hex[:8]}", pay_body(amount_minor=4_321)
    others = stripe_client(standins).v1.payment_intents
    for _ in range(101):  # the stand-in lists oldest first: ours lands past page one
        others.create(
            params={
                "amount": 500,
                "currency": "usd",
                "confirm": True,
                "payment_method": "pm_card_visa",
                "payment_method_types": ["card"],
                "metadata": {"payment_id": f"other-{uuid.uuid4().hex}"},
            }
        )
    with app_client() as c:  # first life: Stripe charges, then the process dies
        pid = _claim_and_create(c, key, body)
        rt = c.app.state.rt
        ref = c.portal.call(rt.store.start_attempt, pid, 1, "stripe")
        charged = c.portal.call(
            rt.gateways["stripe"].authorize, ref, 4_321, "USD", "pm_card_visa"
        )
        assert charged.state == "captured"
    with app_client() as c:  # restart: status sync runs before serving
        view = c.get(f"/payments/{pid}", headers=auth()).json()
        retry = c.post("/pay", json=body, headers=auth(key=key)).json()
        report = reconciled(c)
    assert view["status"] == "captured"
    assert view["attempts"][-1]["gateway_ref"] == charged.gateway_ref
    assert retry["payment_id"] == pid
    assert report.ok, report.problems
    assert (
        report.gateways["stripe"]["gateway_captured_minor"]
        == report.gateways["stripe"]["ledger_captured_minor"]
        == 4_321
    )


def test_a_key_claimed_just_before_a_crash_is_released_and_the_retry_is_charged_once(
    serving_env, caplog
):
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
    key, body = f"claimed-{uuid.uuid4().hex[:8]}", pay_body(amount_minor=1_500)
    req = PayRequest(**body)
    with app_client() as c:  # the claim is written, then the process dies
        rt = c.app.state.rt
        c.portal.call(
            lambda: rt.store.claim(
                "m1", key, body_hash("pay", req.model_dump(mode="json")), lease_s=0.0
            )
        )
    caplog.set_level("INFO", logger="smartpay.runtime")
    with app_client() as c:  # the restart's status sync releases the stuck key
        stuck = c.portal.call(c.app.state.rt.store.stuck_keys)
        report = reconciled(c)
        paid = c.post("/pay", json=body, headers=auth(key=key))
        again = c.post("/pay", json=body, headers=auth(key=key))
        final = reconciled(c)
    assert "keys {'released': 1}" in caplog.text and stuck == [] and report.keys == {}
    assert paid.status_code == 200 and paid.json()["status"] == "captured"
    assert again.json()["payment_id"] == paid.json()["payment_id"]
    assert final.ok and final.gateways["stripe"]["ledger_captured_minor"] == 1_500
