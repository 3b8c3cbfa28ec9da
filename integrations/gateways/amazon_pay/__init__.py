"""Amazon Pay API v2 with AMZN-PAY-RSASSA-PSS signing (its sandbox server is harness)."""

from integrations.gateways.amazon_pay.adapter import AmazonPayAdapter, AmazonPayConfig

__all__ = ["AmazonPayAdapter", "AmazonPayConfig"]
