"""Amazon Pay API v2 with AMZN-PAY-RSASSA-PSS signing; a local sandbox server as stand-in."""

from integrations.gateways.amazon_pay.adapter import AmazonPayAdapter, AmazonPayConfig
from integrations.gateways.amazon_pay.sandbox import approve_as_buyer, run_amazon_pay_sandbox

__all__ = ["AmazonPayAdapter", "AmazonPayConfig", "approve_as_buyer", "run_amazon_pay_sandbox"]
