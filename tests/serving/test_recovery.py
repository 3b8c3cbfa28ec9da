"""A crash between the gateway call and the ledger write is settled on restart by status
sync: nothing is left in limbo and nothing is charged twice."""

from __future__ import annotations

from serving.idempotency import body_hash
from serving.schemas import PayRequest
from tests.serving.conftest import app_client, auth, pay_body


def _start_like_pay(c, rt, key: str, body: dict) -> str:
    """What /pay writes before calling a gateway: the key claim, the payment."""
    req = PayRequest(**body)
    claim = c.portal.call(rt.store.claim, "m1", key, body_hash("pay", req.model_dump(mode="json")))
    assert claim.kind == "new"
    return c.portal.call(lambda: rt.store.create_payment(
        merchant_id="m1", amount_minor=req.amount_minor, currency=req.currency,
        method_type="card", method_token="pm_card_visa", user_id="u1", idem_key=key))


def test_a_payment_charged_just_before_a_crash_is_captured_on_restart_and_not_recharged(
        serving_env):
    body = pay_body(amount_minor=4_321)
    with app_client() as c:  # first life: the gateway charges, then the process dies
        rt = c.app.state.rt
        pid = _start_like_pay(c, rt, "crash", body)
        ref = c.portal.call(rt.store.start_attempt, pid, 1, "stripe")
        charged = c.portal.call(rt.gateways["stripe"].authorize, ref, 4_321, "USD",
                                "pm_card_visa")
        assert charged.state == "captured"
        assert c.portal.call(rt.store.get, pid)["status"] == "created"  # nothing recorded
    with app_client() as c:  # restart: reconciliation runs before serving
        p = c.get(f"/payments/{pid}", headers=auth()).json()
        assert p["status"] == "captured" and p["history"] == ["created", "authorized",
                                                                "captured"]
        assert p["attempts"][0]["gateway_ref"] == charged.gateway_ref
        retry = c.post("/pay", json=body, headers=auth(key="crash")).json()
        assert retry["payment_id"] == pid and len(retry["attempts"]) == 1
        assert c.portal.call(c.app.state.rt.store.in_limbo) == []


def test_a_payment_the_gateway_never_saw_fails_on_restart_and_its_key_answers(serving_env):
    serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
    body = pay_body(amount_minor=1_111)
    with app_client() as c:
        rt = c.app.state.rt
        lost = _start_like_pay(c, rt, "lost", body)
        c.portal.call(rt.store.start_attempt, lost, 1, "stripe")  # crashed before the call
        early = _start_like_pay(c, rt, "early", pay_body(amount_minor=2_222))
    with app_client() as c:  # "not found" counts once the consistency window passed
        c.app.state.rt.payments.policy.consistency_window_s = 0
        c.portal.call(c.app.state.rt.payments.reconcile)
        assert c.get(f"/payments/{lost}", headers=auth()).json()["status"] == "failed"
        assert c.get(f"/payments/{early}", headers=auth()).json()["status"] == "failed"
        again = c.post("/pay", json=body, headers=auth(key="lost")).json()
        assert again["payment_id"] == lost and again["status"] == "failed"
        assert c.portal.call(c.app.state.rt.store.in_limbo) == []
