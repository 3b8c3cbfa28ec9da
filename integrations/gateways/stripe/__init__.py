"""Stripe: PaymentIntents through the official SDK; localstripe as the local stand-in."""

from integrations.gateways.stripe.adapter import StripeAdapter, StripeConfig
from integrations.gateways.stripe.localstripe import run_localstripe

__all__ = ["StripeAdapter", "StripeConfig", "run_localstripe"]
