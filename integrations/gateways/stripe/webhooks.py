"""Stripe webhook intake: verify the signature, map payment events to our statuses."""

from __future__ import annotations

import stripe
from pydantic import SecretStr

from integrations.gateways.base import ErrorKind, GatewayError, PaymentResult
from integrations.gateways.stripe import transformers as tf

PAYMENT_EVENTS = frozenset(
    {
        "payment_intent.succeeded", "payment_intent.payment_failed",
        "payment_intent.canceled", "payment_intent.amount_capturable_updated",
        "payment_intent.requires_action", "payment_intent.processing",
    }
)


def verify_event(payload: bytes | str, signature_header: str | None, secret: SecretStr) -> dict:
    """The event as a dict if `Stripe-Signature` is valid; AUTH GatewayError if not."""
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret.get_secret_value())
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise GatewayError(tf.NAME, ErrorKind.AUTH, "webhook signature rejected",
                           code=type(exc).__name__, sent=False) from None
    return event.to_dict()


def event_to_result(event: dict) -> PaymentResult | None:
    """A verified payment_intent.* event -> PaymentResult (None for other events)."""
    if event.get("type") not in PAYMENT_EVENTS:
        return None
    return tf.to_result(event["data"]["object"])
