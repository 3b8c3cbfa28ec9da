"""Request bodies of the load test: distinct transactions (no risk-cache hits), routes
over a few segments, payments with stand-in card tokens, and distinct chat questions
(the assistant caches per question, so a repeated one would measure the cache)."""

from __future__ import annotations

import time

import numpy as np

_SUBJECTS = (
    "a refund", "a chargeback", "a declined card payment",
    "an insufficient_funds decline",
    "a do_not_honor decline", "a payment held for review", "my SmartReward escrow",
    "an Amazon Pay decline", "a Solana payment", "a pending payment", "an expired card",
    "3-D Secure", "an idempotency key", "the rate limit", "a WebSocket event",
    "a blocked payment appeal", "the risk score", "a failed Stripe charge",
)
_FORMS = (
    "What should I do about {s} of {a} {c}?",
    "How long does {s} of {a} {c} take to settle?",
    "Why did I get {s} on an order of {a} {c}?",
    "Can a customer dispute {s} for {a} {c} after {d} days?",
    "Explain {s} for a payment of {a} {c} made {d} days ago.",
)
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD")


def chat_questions(n: int, salt: int = 0) -> list[str]:
    """`n` different questions about the knowledge base's topics: subject, wording,
    currency and days cycle independently, and the amount (in cents, from `salt`)
    never repeats, so no two questions are the same text."""
    out = []
    for i in range(n):
        cents = 1_000 + salt % 100_000 + 7 * i
        out.append(_FORMS[i % len(_FORMS)].format(
            s=_SUBJECTS[i % len(_SUBJECTS)], a=f"{cents // 100}.{cents % 100:02d}",
            c=_CURRENCIES[i % len(_CURRENCIES)], d=1 + i % 90))
    return out


def bodies(endpoint: str, n: int, rng: np.random.Generator) -> list[dict]:
    """`n` request bodies for /fraud, /route or /pay."""
    amounts = rng.integers(100, 20_000, n)
    if endpoint == "/route":
        nets = rng.choice(["visa", "mastercard", "amex", "discover"], n)
        return [{"amount_minor": int(a), "currency": "USD", "card_network": str(c)}
                for a, c in zip(amounts, nets)]
    base = {"currency": "USD", "tx_epoch_s": int(time.time())}
    offset = int(rng.integers(0, 1_000_000))  # entities differ from run to run
    rows = [base | {"amount_minor": int(a), "customer_id": int((offset + i) % 4000),
                    "terminal_id": int((offset + i) % 9000),
                    "card_id": int((offset + i) % 8000)}
            for i, a in enumerate(amounts)]
    if endpoint == "/pay":
        for r in rows:
            r |= {"channel": "ecommerce",
                  "payment_method": {"type": "card", "token": "pm_card_visa"}}
    return rows
