"""Offline grounded answerer: composes an answer only from retrieved text and ledger facts.

It copies whole sentences from the retrieved passages and states transaction facts from
structured ledger fields, so every amount, date and status in the answer appears
verbatim in a cited source. Sentences are chosen by cosine similarity to the question
(precomputed sentence embeddings) plus word overlap; the passage holding the best
sentence is cited first. Instruction-like text inside a passage is just text here:
nothing in a passage can change what this code does.
"""

from __future__ import annotations

from collections.abc import Callable

from integrations.rag.chunking import sentences
from integrations.rag.lexical import tokens
from integrations.rag.transactions import fact_passage
from integrations.rag.types import Answer, Citation, Hit, Passage, TransactionFact

SUPPORT_CONTACT = "support@smartpay.example (business days, 08:00 to 20:00 UTC)"
DONT_KNOW = (
    "I don't know: I could not find this in the SmartPay guides or your recent payments. "
    f"To reach a person, email {SUPPORT_CONTACT}."
)
NO_MATCHING_PAYMENT = (
    "I could not find a matching payment among your recent transactions."
)
SentenceScorer = Callable[[Passage], list[float]]
LEXICAL_WEIGHT = 0.3
SECOND_SOURCE_MARGIN = 0.05
MAIN_SENTENCES = 3  # guide sections are short; three sentences keep the answer whole
RANK_BONUS = (0.1, 0.05, 0.0)  # retrieval order still counts when sentences tie


def sentence_scores(
    passage: Passage, query: str, scorer: SentenceScorer | None
) -> list[float]:
    """Per-sentence score: dense similarity (if a scorer is given) + word-overlap share."""
    query_terms = set(tokens(query))
    sents = sentences(passage.text)
    dense = scorer(passage) if scorer else []
    dense = dense if len(dense) == len(sents) else [0.0] * len(sents)
    overlap = [
        len(set(tokens(s)) & query_terms) / max(1, len(query_terms)) for s in sents
    ]
    return [d + LEXICAL_WEIGHT * o for d, o in zip(dense, overlap)]


def best_sentences(scores: list[float], passage: Passage, limit: int) -> list[str]:
    """The `limit` best sentences of a passage, in their original order."""
    sents = sentences(passage.text)
    ranked = sorted(range(len(sents)), key=lambda i: -scores[i])
    return [sents[i] for i in sorted(ranked[:limit])]


def citation(n: int, passage: Passage) -> Citation:
    """A numbered citation with a short snippet of the passage."""
    return Citation(
        n=n,
        id=passage.id,
        title=passage.title,
        kind=passage.kind,
        snippet=passage.text[:300],
    )


def _kb_parts(
    query: str, hits: list[Hit], scorer: SentenceScorer | None
) -> list[tuple]:
    scored = [
        (h.passage, [x + bonus for x in sentence_scores(h.passage, query, scorer)])
        for h, bonus in zip(hits, RANK_BONUS)
    ]
    scored = [(p, s) for p, s in scored if s]
    scored.sort(key=lambda ps: -max(ps[1]))
    if not scored:
        return []
    best = max(scored[0][1])
    parts = [(scored[0][0], best_sentences(scored[0][1], scored[0][0], MAIN_SENTENCES))]
    for passage, scores in scored[1:2]:
        if max(scores) >= best - SECOND_SOURCE_MARGIN:
            parts.append((passage, best_sentences(scores, passage, 1)))
    return parts


def compose(
    query: str,
    hits: list[Hit],
    facts: list[TransactionFact],
    about_payments: bool,
    confident: bool,
    scorer: SentenceScorer | None = None,
    pinned: list[Passage] = (),
) -> Answer:
    """Answer text with [n] markers from facts and passages; DONT_KNOW when not confident.

    `pinned` passages (the guide sections of the facts' reason codes) replace the
    retrieved ones: they explain exactly the code the user's payment carries.
    """
    parts, cites = [], []
    for fact in facts if about_payments else []:
        cites.append(citation(len(cites) + 1, fact_passage(fact)))
        parts.append(f"{fact_passage(fact).text} [{len(cites)}]")
    if about_payments and not facts:
        parts.append(NO_MATCHING_PAYMENT)
    if not confident and not cites:
        return Answer(text=DONT_KNOW, citations=[], confident=False)
    kb_parts = [
        (p, best_sentences(sentence_scores(p, query, scorer), p, MAIN_SENTENCES))
        for p in pinned
    ]
    if not kb_parts and confident:
        kb_parts = _kb_parts(query, hits, scorer)
    for passage, chosen in kb_parts:
        cites.append(citation(len(cites) + 1, passage))
        parts.append(" ".join(chosen) + f" [{len(cites)}]")
    return Answer(text=" ".join(parts), citations=cites, confident=bool(cites))
