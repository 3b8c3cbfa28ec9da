"""Stripe: PaymentIntents through the official SDK (localstripe is harness)."""

from integrations.gateways.stripe.adapter import StripeAdapter, StripeConfig

__all__ = ["StripeAdapter", "StripeConfig"]
