"""`smartpay reconcile` settles what a crash left pending and prints the ledger
against each gateway, exiting 0 only when they agree."""

from __future__ import annotations

import json
import uuid

from typer.testing import CliRunner

from cli.main import app
from tests.serving.conftest import app_client, auth, pay_body


def _stripe_only(env) -> None:
    """Stripe alone, and no periodic sync: only the command settles anything."""
    env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")


def _pay(c, amount: int) -> dict:
    key = f"cli-{uuid.uuid4().hex[:8]}"
    return c.post("/pay", json=pay_body(amount_minor=amount), headers=auth(key=key)).json()


def test_smartpay_reconcile_settles_a_lost_charge_and_reports_the_ledger_equal_to_stripe(
    serving_env,
):
    _stripe_only(serving_env)
    with app_client() as c:
        paid = _pay(c, 1_200)
        rt = c.app.state.rt  # a second charge whose answer never reached the ledger
        pid = c.portal.call(
            lambda: rt.store.create_payment(
                merchant_id="m1",
                amount_minor=800,
                currency="USD",
                method_type="card",
                method_token="pm_card_visa",
                user_id="u1",
                first_gateway="stripe",
            )
        )
        c.portal.call(
            rt.gateways["stripe"].authorize, f"{pid}-1", 800, "USD", "pm_card_visa"
        )
    out = CliRunner().invoke(app, ["reconcile", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["payments"] == {"captured": 1} and report["ok"]
    stripe = report["gateways"]["stripe"]
    assert stripe["ledger_captured_minor"] == stripe["gateway_captured_minor"] == 2_000
    assert paid["status"] == "captured"


def test_smartpay_reconcile_exits_1_and_names_a_payment_the_gateway_never_charged(
    serving_env,
):
    _stripe_only(serving_env)
    with app_client() as c:
        pid = _pay(c, 900)["payment_id"]
        c.portal.call(c.app.state.rt.store.runner.run, _forget_the_charge, pid)
    out = CliRunner().invoke(app, ["reconcile"])
    assert out.exit_code == 1
    assert pid in out.output and "mismatch" in out.output


def _forget_the_charge(conn, pid: str) -> None:
    """Break the ledger on purpose: point the payment at an intent that is not its."""
    from sqlalchemy import text

    conn.execute(
        text("update payments set gateway_ref = 'pi_elsewhere' where id = :p"),
        {"p": pid},
    )
