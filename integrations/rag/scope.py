"""Does the knowledge base speak about what a question asks? The gate before retrieval.

Dense similarity cannot tell "what does SmartPay charge per card payment?" from "how do
I charge a card?": both sit close to the payment guides, and the nearest page would be
quoted with confidence. A question that names something specific which no KB page
mentions cannot be answered from the KB, however close its other words are. Specific
means a proper name (a word written with a capital inside the sentence: a country, a
wallet, a shop system) or a pricing term (fee, price, commission, ...; "how much do you
charge" asks for a price too). Everyday words a page does not use (happen, shopper,
yesterday) are not specific: the retrievers handle paraphrase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from integrations.rag.lexical import stem, tokens

PRICING_TERMS = frozenset(
    "fee fees price prices pricing cost costs commission commissions percentage "
    "surcharge surcharges subscription discount discounts interchange markup".split()
)
# Asking what SmartPay takes is asking for a price, whatever the words.
_ASKS_PRICE = re.compile(
    r"\bhow much (?:do|does|will|would) (?:you|smartpay|it|they) "
    r"(?:charge|take|cost)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9_'-]+|[.!?]")


def _proper_names(question: str) -> list[str]:
    """Words with a capital letter not starting a sentence (ids and codes aside)."""
    names, starts = [], True
    for word in _WORD.findall(question):
        if word in ".!?":
            starts = True
            continue
        plain = not any(ch.isdigit() or ch == "_" for ch in word)
        if not starts and plain and any(ch.isupper() for ch in word):
            names.append(word)
        starts = False
    return names


def specific_terms(question: str) -> set[str]:
    """Stems of the proper names and pricing terms a question names."""
    words = _proper_names(question)
    words += [w for w in re.findall(r"[a-z]+", question.lower()) if w in PRICING_TERMS]
    found = {t for w in words for t in tokens(w)}
    if _ASKS_PRICE.search(question):
        found.add(stem("fee"))
    return found


def kb_vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every content-word stem of the knowledge base."""
    return frozenset(t for text in texts for t in tokens(text))


def unknown_terms(question: str, vocabulary: frozenset[str]) -> set[str]:
    """The specific terms of a question that no KB page mentions (empty: in scope)."""
    return specific_terms(question) - vocabulary
