"""The asker's own transactions: isolation filter, rendering and question-time ranking.

Transactions are never put in the shared index. They are fetched per question through
the caller's provider, filtered again here to the asker's merchant and user (so a
provider bug cannot leak another user's rows), and ranked only among themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from integrations.rag.lexical import tokens
from integrations.rag.redact import redact
from integrations.rag.types import Passage, TransactionFact

TransactionsProvider = Callable[..., Iterable[TransactionFact | Mapping]]
MAX_FACTS = 50

_STATUS_WORDS = {
    "declined": ("declin", "refus", "reject", "denied", "fail"),
    "refunded": ("refund",),
    "partially_refunded": ("refund",),
    "pending": ("pending", "stuck", "processing", "wait"),
    "under_review": ("review", "held", "hold"),
    "review": ("review", "held", "hold"),  # the ledger's statuses (serving/ledger/states.py)
    "capturing": ("review", "approv", "processing"),
    "voiding": ("review", "reject", "cancel", "void"),
    "voided": ("void", "cancel", "reject", "released"),
    "captured": ("captur", "succeed", "success", "went through", "complet", "charged"),
    "failed": ("fail", "error"),
    "succeeded": ("succeed", "success", "went through", "complet"),
    "canceled": ("cancel",),
}
_OWN_PAYMENT = re.compile(
    r"\b(my|our)\s+(\w+\s+){0,2}(payments?|charges?|transactions?|orders?|purchases?|"
    r"refunds?|cards?)\b"
    r"|\b(was|were|did|have|got|get) (i|we)( been)? (charged|refunded|paid|declined|billed)\b"
    r"|\b(i|we) (was|were|got|have been) (charged|refunded|declined|billed)\b",
    re.IGNORECASE,
)
# Payment ids look like pay_<hex>; requiring a digit keeps status names such as
# under_review from being read as ids.
_TX_ID = re.compile(r"\b[a-z]{2,5}_(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{4,}\b")


def own_facts(
    rows: Iterable[TransactionFact | Mapping], user_id: str | None, merchant_id: str
):
    """Validated rows of this user at this merchant only, newest first, descriptions redacted."""
    facts = [
        r if isinstance(r, TransactionFact) else TransactionFact.model_validate(r)
        for r in rows
    ]
    mine = [
        f
        for f in facts
        if f.merchant_id == merchant_id and (user_id is None or f.user_id == user_id)
    ]
    mine.sort(key=lambda f: f.created_at, reverse=True)
    return [
        f.model_copy(update={"description": redact(f.description)})
        for f in mine[:MAX_FACTS]
    ]


def asks_about_own_payments(question: str, facts: list[TransactionFact]) -> bool:
    """True when the question refers to the asker's payments or names a payment id."""
    return bool(_TX_ID.search(question) or _OWN_PAYMENT.search(question))


def _wanted_statuses(question: str) -> set[str]:
    q = question.lower()
    return {
        status for status, words in _STATUS_WORDS.items() if any(w in q for w in words)
    }


def pick_facts(question: str, facts: list[TransactionFact], limit: int = 1):
    """The transactions a question is about: named ids first, else status words, else newest.

    A question naming ids that are not the asker's gets nothing, never a lookalike.
    """
    named_ids = set(_TX_ID.findall(question))
    if named_ids:
        return [f for f in facts if f.id in named_ids][:limit]
    statuses = _wanted_statuses(question)
    if statuses:
        return [f for f in facts if f.status in statuses][:limit]
    words = set(tokens(question))
    by_overlap = sorted(facts, key=lambda f: -len(words & set(tokens(f.description))))
    return by_overlap[:limit]


def fact_sentence(fact: TransactionFact) -> str:
    """A statement of facts taken only from the ledger row (no description text)."""
    text = (
        f"Your payment {fact.id} of {fact.money()} on {fact.created_at:%Y-%m-%d} "
        f"has status {fact.status}"
    )
    if fact.reason_code:
        text += f" with reason code {redact(fact.reason_code)}"
    if fact.reward:
        text += f"; it earned {redact(fact.reward)}"
    return text + "."


def fact_passage(fact: TransactionFact) -> Passage:
    """The transaction as a citable passage."""
    return Passage(
        id=f"txn:{fact.id}",
        section_id=f"txn:{fact.id}",
        title=f"Your payment {fact.id}",
        text=fact_sentence(fact),
        kind="transaction",
    )
