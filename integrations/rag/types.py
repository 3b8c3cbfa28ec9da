"""Typed values passed between the assistant's stages and to its callers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from smartpay.money import Money


class Passage(BaseModel):
    """A retrievable piece of text: a knowledge-base chunk or one of the asker's payments."""

    model_config = ConfigDict(frozen=True)

    id: str
    section_id: str
    title: str
    text: str
    kind: Literal["kb", "transaction"] = "kb"

    @property
    def search_text(self) -> str:
        """What the retrievers index: the title gives short chunks their topic."""
        return f"{self.title}. {self.text}"


class TransactionFact(BaseModel):
    """One ledger row as the assistant may see it; it belongs to one merchant and user.

    Built from serving's ledger rows as they are (`reason` is read as the reason code;
    other columns such as payment-method tokens are ignored and never stored here).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    merchant_id: str
    user_id: str | None = None
    amount_minor: int
    currency: str
    status: str
    created_at: datetime
    description: str = ""
    reason_code: str | None = Field(
        default=None, validation_alias=AliasChoices("reason_code", "reason")
    )
    gateway: str | None = None
    # What the payment earned in rewards, as the caller words it ("1.234 SmartReward,
    # escrowed"); None when it earned nothing or the caller does not say.
    reward: str | None = None

    @field_validator("reason_code", "description", "reward")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        """Free text from gateways is cut to a sensible length."""
        return value[:120] if value else value

    def money(self) -> str:
        """The amount as a human string built from minor units (never a float)."""
        return Money(self.amount_minor, self.currency).major()


class Hit(BaseModel):
    """A passage with its rank score from one retriever."""

    passage: Passage
    score: float


class Citation(BaseModel):
    """A source the answer relies on, numbered as in the answer text."""

    n: int
    id: str
    title: str
    kind: Literal["kb", "transaction"]
    snippet: str


class Answer(BaseModel):
    """What the assistant returns: text with [n] markers, its sources, and its confidence."""

    text: str
    citations: list[Citation] = Field(default_factory=list)
    confident: bool
    cached: bool = False
