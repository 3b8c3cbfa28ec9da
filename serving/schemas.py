"""Typed HTTP boundary of the payment API: every request and response is a pydantic model.

Amounts are positive integer minor units with an ISO-4217 currency; payment methods are
tokens, never card numbers (a digit run that looks like a PAN is rejected, not stored).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smartpay.errors import InputError
from smartpay.money import check_currency

MethodType = Literal["card", "amazon_pay", "solana"]
Decision = Literal["approve", "review", "decline"]
PaymentStatus = Literal[
    "created", "authorized", "pending", "captured", "declined", "failed", "refunded"
]
_PAN_LIKE = re.compile(r"\d[\d \-]{10,}\d")


class _Strict(BaseModel):
    """Unknown fields are errors: a stray `card_number` is refused, never stored."""

    model_config = ConfigDict(extra="forbid", strict=False)


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except InputError as exc:
        raise ValueError(exc.expected) from None


class PaymentMethod(_Strict):
    """A tokenised payment method (e.g. `pm_card_visa`, an Amazon Pay session id)."""

    type: MethodType
    token: str = Field(min_length=3, max_length=128, pattern=r"^[A-Za-z0-9_\-:.]+$")

    @field_validator("token")
    @classmethod
    def _not_a_card_number(cls, v: str) -> str:
        if _PAN_LIKE.search(v):
            raise ValueError("a payment-method token, never a card number")
        return v


class TxFields(_Strict):
    """The transaction facts shared by /fraud, /route and /pay."""

    amount_minor: int = Field(gt=0, le=10**12, strict=True)
    currency: str
    customer_id: int = Field(ge=0, strict=True)
    terminal_id: int = Field(ge=0, strict=True)
    card_id: int = Field(ge=0, strict=True)
    tx_epoch_s: int | None = Field(default=None, ge=0, strict=True)

    _cur = field_validator("currency")(_currency)


class RouteContext(_Strict):
    """What the router sees besides the amount: card, country, category, channel."""

    card_network: Literal["visa", "mastercard", "amex", "discover"] = "visa"
    issuing_country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    merchant_category: str = Field(default="grocery", max_length=32)
    channel: Literal["ecommerce", "card_present"] = "ecommerce"
    device_id: str | None = Field(default=None, max_length=64)


class FraudRequest(TxFields):
    """POST /fraud."""


class Contribution(BaseModel):
    feature: str
    contribution: float


class FraudResult(BaseModel):
    """Risk in [0, 1], the decision it implies and the features that drove it."""

    risk_score: float = Field(ge=0, le=1)
    decision: Decision
    top_features: list[Contribution] = []
    model_version: str = ""
    cached: bool = False


class RouteRequest(RouteContext):
    """POST /route."""

    amount_minor: int = Field(gt=0, le=10**12, strict=True)
    currency: str
    payment_method_type: MethodType = "card"
    risk_score: float = Field(default=0.0, ge=0, le=1)
    hour: int | None = Field(default=None, ge=0, le=23)

    _cur = field_validator("currency")(_currency)


class RouteResult(BaseModel):
    """The chosen gateway, the policy's probability for it and the full ranking."""

    gateway: str
    probability: float
    ranking: list[str]
    decision_id: str
    cached: bool = False


class PayRequest(TxFields, RouteContext):
    """POST /pay (header Idempotency-Key required)."""

    payment_method: PaymentMethod
    user_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-]{1,64}$")


class Attempt(BaseModel):
    gateway: str
    outcome: str
    error_class: str | None = None
    gateway_ref: str | None = None


class RewardInfo(BaseModel):
    user_id: str
    amount: int
    status: str
    signature: str | None = None


class PaymentView(BaseModel):
    """A payment as the merchant sees it (GET /payments/{id} and /pay's answer)."""

    payment_id: str
    merchant_id: str
    status: PaymentStatus
    amount_minor: int
    currency: str
    refunded_minor: int = 0
    gateway: str | None = None
    risk_score: float | None = None
    fraud_decision: Decision | None = None
    attempts: list[Attempt] = []
    reward: RewardInfo | None = None
    history: list[str] = []
    reason: str | None = None


class RefundRequest(_Strict):
    """POST /payments/{id}/refund: the whole remaining amount when omitted."""

    amount_minor: int | None = Field(default=None, gt=0, strict=True)


class RewardRequest(_Strict):
    """POST /reward: mint the reward of a captured payment (idempotent per payment)."""

    payment_id: str = Field(min_length=1, max_length=64)


class BalanceView(BaseModel):
    user_id: str
    balance: int
    escrow: int = 0
    cached: bool = False


class ChatRequest(_Strict):
    message: str = Field(min_length=1, max_length=4_000)
    session_id: str | None = Field(default=None, max_length=64)


class ChatResponse(BaseModel):
    answer: str
    sources: list[str] = []
    cached: bool = False


class ErrorBody(BaseModel):
    """Every error answer: a code, a sentence, and per-field details for 422s."""

    error: str
    message: str
    fields: list[dict] = []
