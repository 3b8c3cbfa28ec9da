"""Serving decides with the champion's own registered thresholds: moving
`fraud-detector@champion` to a version registered with other thresholds changes what
`/fraud` and `/pay` decide without a restart, and every payment records the version
and thresholds that decided it."""

from __future__ import annotations

import time
import uuid

from tests.serving.backends import register_tiny
from tests.serving.conftest import app_client, auth, pay_body

BODY = {k: v for k, v in pay_body().items() if k not in ("payment_method", "channel")}


def test_pay_follows_the_champions_registered_thresholds_without_a_restart(
        serving_env, tmp_path):
    from models.fraud.registry import connect
    from serving.services import FraudScorer

    serving_env.setenv("SMARTPAY_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'ml.db'}")
    serving_env.setenv("SMARTPAY_SERVING__FRAUD_BACKEND",
                       "tests.serving.backends:registered_fraud")
    serving_env.setenv("SMARTPAY_SERVING__MODEL_RELOAD_S", "0.1")
    serving_env.setenv("SMARTPAY_GATEWAYS__ENABLED", '["stripe"]')
    registry = connect()
    strict = register_tiny(registry, review=0.0, decline=1.0)  # everything to review
    lenient = register_tiny(registry, review=1.0, decline=1.0)  # everything approved
    registry.set_alias("champion", strict)

    scorer = FraudScorer()
    with app_client(scorer=scorer) as c:
        c.portal.call(_start, scorer)
        try:
            first = c.post("/pay", json=pay_body(), headers=auth(key=uuid.uuid4().hex)).json()
            assert (first["status"], first["fraud_model_version"]) == ("review", strict)
            assert first["fraud_thresholds"] == {"review": 0.0, "decline": 1.0}

            registry.set_alias("champion", lenient)
            deadline, n = time.monotonic() + 15, 100
            while time.monotonic() < deadline:  # a new transaction each time: the API
                n += 1                          # caches a transaction's risk 30 min
                scored = c.post("/fraud", json=BODY | {"customer_id": n},
                                headers=auth()).json()
                if scored["model_version"] == lenient:
                    break
                time.sleep(0.1)
            assert scored["model_version"] == lenient and scored["decision"] == "approve"

            # a new transaction (the risk cache is keyed by the transaction)
            second = c.post("/pay", json=pay_body(card_id=15),
                            headers=auth(key=uuid.uuid4().hex)).json()
            assert (second["status"], second["fraud_model_version"]) == ("captured", lenient)
            assert second["fraud_thresholds"] == {"review": 1.0, "decline": 1.0}
            held = c.get(f"/payments/{first['payment_id']}", headers=auth()).json()
            assert (held["status"], held["fraud_model_version"]) == ("review", strict)
        finally:
            c.portal.call(scorer.model.stop)


async def _start(scorer) -> None:
    scorer.model.start()
