"""A gateway that charges and then loses its answer (a partition between us and it):
the payment stays pending, is not failed over to another gateway, and status sync
settles it as captured once the gateway can be reached; the ledger then equals each
gateway's records to the minor unit and nothing is charged twice."""

from __future__ import annotations

import time
import uuid

from tests.serving.conftest import app_client, auth, pay_body
from tests.serving.money.conftest import AMAZON_ENDPOINT, STRIPE_BASE, reconciled
from tests.serving.money.partition import PartitionProxy

CHARGE = {"stripe": "POST /v1/payment_intents ", "amazon_pay": "/complete"}


def test_a_charge_whose_answer_is_lost_stays_pending_is_never_failed_over_and_settles_later(
    serving_env, standins
):
    with (
        PartitionProxy(standins[STRIPE_BASE]) as sp,
        PartitionProxy(standins[AMAZON_ENDPOINT]) as ap,
    ):
        proxies = {"stripe": sp, "amazon_pay": ap}
        serving_env.setenv(STRIPE_BASE, sp.url)
        serving_env.setenv(AMAZON_ENDPOINT, ap.url)
        serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe", "amazon_pay"]')
        serving_env.setenv("SMARTPAY_SERVING__RECONCILE_EVERY_S", "0")
        serving_env.setenv("SMARTPAY_GATEWAYS__BREAKER_OPEN_S", "0.5")
        for name, proxy in proxies.items():  # whichever the router picks charges first
            proxy.partition_after(CHARGE[name])
        with app_client() as c:
            key = f"part-{uuid.uuid4().hex[:8]}"
            paid = c.post(
                "/pay", json=pay_body(amount_minor=2_345), headers=auth(key=key)
            )
            assert paid.status_code == 200, paid.text
            view = paid.json()
            assert view["status"] == "pending" and len(view["attempts"]) == 1
            first = view["attempts"][0]["gateway"]
            other = "amazon_pay" if first == "stripe" else "stripe"
            assert proxies[first].partitioned
            assert not any(CHARGE[other] in r for r in proxies[other].requests)

            still = reconciled(c)  # still partitioned: nothing is concluded
            assert still.payments == {"pending": 1}
            for proxy in proxies.values():
                proxy.heal()
            time.sleep(0.6)  # the breaker the partition opened lets a probe through
            report = reconciled(c)
            after = c.get(f"/payments/{view['payment_id']}", headers=auth()).json()
            retry = c.post(
                "/pay", json=pay_body(amount_minor=2_345), headers=auth(key=key)
            )
    assert report.payments == {"captured": 1}
    assert after["status"] == "captured" and len(after["attempts"]) == 1
    assert retry.json()["payment_id"] == view["payment_id"]
    assert report.ok, report.problems
    totals = report.gateways[first]
    assert totals["ledger_captured_minor"] == totals["gateway_captured_minor"] == 2_345
    assert report.gateways[other]["charged_payments"] == 0
