"""Typed HTTP boundary of the payment API: every request and response is a pydantic model.

Amounts are positive integer minor units with an ISO-4217 currency; payment methods are
tokens, never card numbers (a digit run that looks like a PAN is rejected, not stored).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from smartpay.errors import InputError
from smartpay.money import CURRENCY_EXPONENT, check_currency
from smartpay.redact import card_numbers

MethodType = Literal["card", "amazon_pay", "solana"]
Decision = Literal["approve", "review", "decline"]
PaymentStatus = Literal[
    "created", "authorized", "pending", "review", "capturing", "voiding", "captured",
    "declined", "failed", "voided", "refunded"
]
_PAN_LIKE = re.compile(r"\d[\d \-]{10,}\d")
INT64_MAX = 2**63 - 1  # ids are BIGINT in the store
MAX_AMOUNT_MINOR = 10**12
ID_MAX_CHARS = 64
# The assistant refuses longer questions (integrations.rag MAX_QUESTION_CHARS); a test
# keeps the two equal, so the API's limit is the one that holds.
CHAT_MAX_CHARS = 2_000
_OUR_PAYMENT_ID = re.compile(r"^pay_[0-9a-f]{24}$")


def no_card_number(value: str) -> str:
    """Ids are logged and stored in clear, so one that could be a card number (a
    Luhn-valid 12-19 digit run) is refused; the 422 does not echo it."""
    if card_numbers(value):
        raise ValueError("an id that cannot be a card number (no Luhn-valid run of "
                         "12-19 digits)")
    return value


def _payment_id(value: str) -> str:
    # Our own ids are hex and may hold a digit run by chance; they are never refused.
    return value if _OUR_PAYMENT_ID.match(value) else no_card_number(value)


def _no_card_number_int(value: int) -> int:
    no_card_number(str(value))
    return value


# Documented as the list check_currency accepts (it also takes lower case).
Currency = Annotated[str, Field(json_schema_extra={"enum": sorted(CURRENCY_EXPONENT)})]
# Numeric ids up to int64; one of 12-19 digits that passes the Luhn check is refused as
# a possible card number (ids of up to 11 digits are always accepted).
Id64 = Annotated[int, Field(ge=0, le=INT64_MAX, strict=True),
                 AfterValidator(_no_card_number_int)]
# A Unix time in seconds before 2100 (later ones overflow the feature code's dates).
EpochS = Annotated[int, Field(ge=0, le=4_102_444_800, strict=True)]
Amount = Annotated[int, Field(gt=0, le=MAX_AMOUNT_MINOR, strict=True)]
TextId = Annotated[str, Field(min_length=1, max_length=ID_MAX_CHARS,
                              pattern=r"^[A-Za-z0-9_\-:.]+$"),
                   AfterValidator(no_card_number)]
UserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$"),
                   AfterValidator(no_card_number)]
PaymentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$"),
                      AfterValidator(_payment_id)]


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

    amount_minor: Amount
    currency: Currency
    customer_id: Id64
    terminal_id: Id64
    card_id: Id64
    tx_epoch_s: EpochS | None = None

    _cur = field_validator("currency")(_currency)


class RouteContext(_Strict):
    """What the router sees besides the amount: card, country, category, channel."""

    card_network: Literal["visa", "mastercard", "amex", "discover"] = "visa"
    issuing_country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    merchant_category: str = Field(default="grocery", max_length=32,
                                   pattern=r"^[a-z_]+$")
    channel: Literal["ecommerce", "card_present"] = "ecommerce"
    device_id: TextId | None = None


class FraudRequest(TxFields):
    """POST /fraud."""


class Contribution(BaseModel):
    feature: str
    contribution: float


class FraudThresholds(BaseModel):
    """The scores at which the model version that decided sends a payment to review
    and declines it (chosen at training for false-positive budgets; registered with
    the version)."""

    review: float = Field(ge=0, le=1)
    decline: float = Field(ge=0, le=1)


class FraudResult(BaseModel):
    """Risk in [0, 1], the decision it implies and the features that drove it."""

    risk_score: float = Field(ge=0, le=1)
    decision: Decision
    top_features: list[Contribution] = []
    model_version: str = ""
    thresholds: FraudThresholds | None = None
    cached: bool = False


class RouteRequest(RouteContext):
    """POST /route."""

    amount_minor: Amount
    currency: Currency
    payment_method_type: MethodType = "card"
    risk_score: float = Field(default=0.0, ge=0, le=1)
    hour: int | None = Field(default=None, ge=0, le=23)
    # When the payment happens (Unix seconds; default now): its UTC hour is the
    # context's hour unless `hour` is given.
    tx_epoch_s: int | None = Field(default=None, ge=0, le=4_102_444_800)

    _cur = field_validator("currency")(_currency)


class RouteOutcome(_Strict):
    """POST /route/{decision_id}/outcome: what happened to a payment routed by /route
    and charged by the merchant itself, so the router learns from it."""

    gateway: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    success: bool
    latency_ms: float = Field(ge=0, le=600_000)
    amount_minor: Amount
    currency: Currency

    _cur = field_validator("currency")(_currency)


class OutcomeAck(BaseModel):
    """Whether the router learned the outcome; an outcome for a decision it no longer
    holds (already learned, unknown or dropped as the oldest pending) is not learned."""

    learned: bool
    reason: str | None = None


class RouteResult(BaseModel):
    """The chosen gateway, the policy's probability for it and the full ranking."""

    gateway: str
    probability: float
    ranking: list[str]
    decision_id: str
    cached: bool = False
    # The router version that decided (None: the static fallback order, router down).
    model_version: str | None = None


class RouterDecision(RouteResult):
    """What the router service answers the API: the public decision and the record
    the decision log keeps with the payment (`models.router.policy.record_of`)."""

    record: dict | None = None


class PayRequest(TxFields, RouteContext):
    """POST /pay (header Idempotency-Key required)."""

    payment_method: PaymentMethod
    user_id: UserId | None = None


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
    fraud_model_version: str | None = None
    fraud_thresholds: FraudThresholds | None = None
    attempts: list[Attempt] = []
    reward: RewardInfo | None = None
    history: list[str] = []
    reason: str | None = None


class ReviewRequest(_Strict):
    """POST /payments/{id}/review: an operator's verdict on a payment held for review.
    approve captures the held authorization, reject voids it."""

    verdict: Literal["approve", "reject"]
    note: str = Field("", max_length=500)

    @field_validator("note")
    @classmethod
    def _no_card_number(cls, v: str) -> str:
        if _PAN_LIKE.search(v):  # the note is kept in the payment's history
            raise ValueError("free text without card numbers (13+ digits in a row)")
        return v


class RefundRequest(_Strict):
    """POST /payments/{id}/refund: the whole remaining amount when omitted."""

    amount_minor: Amount | None = None


class RewardRequest(_Strict):
    """POST /reward: mint the reward of a captured payment (idempotent per payment)."""

    payment_id: PaymentId


class BalanceView(BaseModel):
    user_id: str
    balance: int
    escrow: int = 0
    cached: bool = False


class ChatRequest(_Strict):
    """POST /chat: a question of 1-2,000 characters, not only blanks.

    `user_id` asks for one end user of this merchant (the token names a merchant's
    client, not its users): the assistant then sees that user's payments only.
    Without it the merchant asks, and sees its own payments."""

    message: str = Field(min_length=1, max_length=CHAT_MAX_CHARS)
    session_id: TextId | None = None
    user_id: UserId | None = None

    @field_validator("message")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a question, not only blanks")
        return v


class ChatResponse(BaseModel):
    answer: str
    sources: list[str] = []
    cached: bool = False


class ErrorBody(BaseModel):
    """Every error answer: a code, a sentence, and per-field details for 422s."""

    error: str
    message: str
    fields: list[dict] = []
