"""Ledger tables (SQLAlchemy 2 declarative). Only payment-method tokens are stored.

The schema itself is made by the Alembic revisions in `migrations/`; these classes
describe it for the statements (and for a reader).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Now, in UTC (every ledger timestamp is)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Payment(Base):
    """One payment and its current status; its history lives in `transitions`."""

    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # settled + reserved refunds: a refund reserves its amount here before the gateway
    # call, so concurrent refunds can never add up to more than the payment
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    method_type: Mapped[str] = mapped_column(String(16))
    method_token: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    gateway: Mapped[str | None] = mapped_column(String(32), nullable=True)
    gateway_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    risk_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    fraud_decision: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # the model version that decided and its review/decline thresholds at that moment
    fraud_model_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fraud_thresholds: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    route_decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    reward: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    idem_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # finding the payment a (taken-over) Idempotency-Key already created
    __table_args__ = (
        Index("ix_payments_merchant_idem_key", "merchant_id", "idem_key"),)


class Transition(Base):
    """Every status change of a payment, in order."""

    __tablename__ = "transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(256), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GatewayAttempt(Base):
    """One call to a gateway, written *before* the call so a crash leaves a trace."""

    __tablename__ = "gateway_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    gateway: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(80), unique=True)
    outcome: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    error_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    gateway_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RouteDecision(Base):
    """The router's decision for a payment, written with the payment, and the outcome
    of the attempt it routed, written with the payment's settled status: the served
    decision log that `smartpay router log export` turns into training data."""

    __tablename__ = "route_decisions"
    decision_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 index=True)
    policy_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    gateway: Mapped[str] = mapped_column(String(32))
    propensity: Mapped[float] = mapped_column(Float)
    # context, eligibility, fees, gateway_stats at decision time, probabilities
    record: Mapped[dict] = mapped_column(JSON)
    success: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)


class IdempotencyKey(Base):
    """A merchant's Idempotency-Key: the request hash and, once done, the answer."""

    __tablename__ = "idempotency_keys"
    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default="in_progress")
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # until when the process that claimed the key owns it; after that (it died) another
    # request with the same key may take it over
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)


class Refund(Base):
    """One refund of a payment: reserved (pending), then succeeded or failed."""

    __tablename__ = "refunds"
    refund_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(12), index=True)
    gateway_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                         nullable=True)


class OutboxEvent(Base):
    """An event written in the transaction of the state change it announces; a relay
    claims it (`claimed_until`), publishes it and stamps `published_at`."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    merchant_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                          nullable=True)
    # a relay's lease on the row while it publishes it (NULL: unclaimed)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)

    # the relay's scan: only unpublished rows are indexed, so it stays small
    __table_args__ = (Index("ix_outbox_unpublished", "id",
                            postgresql_where=published_at.is_(None),
                            sqlite_where=published_at.is_(None)),)


class DeadLetter(Base):
    """An event a subscriber still failed to handle after its retries."""

    __tablename__ = "dead_letters"
    entry_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    handler: Mapped[str] = mapped_column(String(64))
    event: Mapped[dict] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    parked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
