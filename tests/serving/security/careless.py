"""Test-only code that logs carelessly, as a new log call one day might: a card number,
a CVC, a bearer JWT and the configured secret, once in the API process (loaded as its
sandbox hooks) and once in the fraud scorer's (loaded as its backend). The served test
then proves both lines reached the log masked."""

from __future__ import annotations

import logging
import os

CARD = "4111111111111111"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYXJlbGVzcyJ9.c2lnbmF0dXJlLXRlc3Q"
MARK = "careless log line"


def _leak(where: str) -> None:
    log = logging.getLogger(f"smartpay.careless.{where}")
    log.warning("%s: card %s cvc=%s Authorization: Bearer %s secret %s", MARK, CARD,
                "737", JWT, os.environ.get("SMARTPAY_JWT_SECRET", ""))
    try:
        raise ValueError(f"card_number={CARD} secret={os.environ.get('SMARTPAY_JWT_SECRET')}")
    except ValueError:
        log.exception("%s with a traceback", MARK)


def sandbox_hooks(settings, adapters: dict) -> dict:
    """The harness's sandbox hooks, after a careless line in the API process."""
    from harness.sandbox import hooks

    _leak("api")
    return hooks(settings, adapters)


def fraud_backend():
    """The tests' tiny fraud backend, after a careless line in the scorer process."""
    from tests.serving.backends import tiny_fraud

    _leak("fraud_scorer")
    return tiny_fraud()
