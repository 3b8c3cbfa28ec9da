"""Helpers for the money attack tests: the gateway's own records read back with the
official Stripe client, and one reconciliation round through the composition root."""

from __future__ import annotations

import stripe

from serving.payments.reconcile import reconcile

STRIPE_BASE = "SMARTPAY_GATEWAYS__STRIPE_API_BASE"
AMAZON_ENDPOINT = "SMARTPAY_GATEWAYS__AMAZON_PAY_ENDPOINT"


def stripe_client(standins: dict) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_local",
        base_addresses={"api": standins[STRIPE_BASE]},
        max_network_retries=0,
    )


def refunded_at_stripe(standins: dict, intent_id: str) -> int:
    refunds = stripe_client(standins).v1.refunds.list(
        params={"payment_intent": intent_id, "limit": 100}
    )
    return sum(r.amount for r in refunds.data if r.status == "succeeded")


def reconciled(c, **kw):
    """One reconciliation round in the app's runtime; its report."""
    return c.portal.call(lambda: reconcile(c.app.state.rt.payments, **kw))
