"""Offline grounded answerer: composes an answer only from retrieved text and ledger facts.

It copies whole sentences from the best passages (chosen by overlap with the question)
and states transaction facts from structured ledger fields, so every amount, date and
status in the answer appears verbatim in a cited source. Instruction-like text inside
a passage is just text here: nothing in a passage can change what this code does.
"""

from __future__ import annotations

from integrations.rag.chunking import sentences
from integrations.rag.lexical import tokens
from integrations.rag.transactions import fact_passage
from integrations.rag.types import Answer, Citation, Hit, Passage, TransactionFact

DONT_KNOW = (
    "I don't know: I could not find this in the SmartPay guides or your recent payments. "
    "Please rephrase the question or contact support."
)
NO_MATCHING_PAYMENT = "I could not find a matching payment among your recent transactions."
MAX_SENTENCES = 3


def _sentence_score(sentence: str, query_terms: set[str]) -> float:
    terms = set(tokens(sentence))
    return len(terms & query_terms) / (1 + 0.05 * len(terms))


def best_sentences(passage: Passage, query: str, limit: int) -> list[str]:
    """The passage's sentences that share most words with the query, in original order."""
    query_terms = set(tokens(query))
    sents = sentences(passage.text)
    ranked = sorted(range(len(sents)), key=lambda i: -_sentence_score(sents[i], query_terms))
    keep = sorted(i for i in ranked[:limit] if _sentence_score(sents[i], query_terms) > 0)
    return [sents[i] for i in (keep or [0])]


def citation(n: int, passage: Passage) -> Citation:
    """A numbered citation with a short snippet of the passage."""
    return Citation(n=n, id=passage.id, title=passage.title, kind=passage.kind,
                    snippet=passage.text[:300])


def compose(
    query: str, hits: list[Hit], facts: list[TransactionFact], about_payments: bool,
    confident: bool,
) -> Answer:
    """Answer text with [n] markers from facts and passages; DONT_KNOW when not confident."""
    parts, cites = [], []
    if about_payments and facts:
        for fact in facts:
            cites.append(citation(len(cites) + 1, fact_passage(fact)))
            parts.append(f"{fact_passage(fact).text} [{len(cites)}]")
    elif about_payments:
        parts.append(NO_MATCHING_PAYMENT)
    if not confident and not cites:
        return Answer(text=DONT_KNOW, citations=[], confident=False)
    if confident:
        for i, hit in enumerate(hits[:2]):
            limit = MAX_SENTENCES - 1 if i == 0 else 1
            chosen = best_sentences(hit.passage, query, limit)
            if i and not set(tokens(" ".join(chosen))) & set(tokens(query)):
                continue
            cites.append(citation(len(cites) + 1, hit.passage))
            parts.append(" ".join(chosen) + f" [{len(cites)}]")
    return Answer(text=" ".join(parts), citations=cites, confident=bool(cites))
