"""Evaluation of retrieval (hit@3, MRR for BM25, dense, hybrid) and of grounded answers.

An answer to an answerable question counts as grounded when it is confident, cites a
labelled passage, the labelled answer phrase is in both the answer and a cited passage,
and every figure in the answer also appears in the cited sources. For a question the
KB cannot answer, only "I don't know" with no citations counts as grounded. Questions
about the asker's own payments must also cite the right ledger row, and no answer may
name a payment of another user (the ledger holds rows crafted to tempt retrieval).

The set has two parts: `tuning` (thresholds and weights are chosen on it) and `heldout`
(never tuned on); every metric is reported per part. Refusal rates count "I don't know"
answers: of the in-domain questions the KB cannot answer (should be refused) and of the
answerable ones (should not be).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel

from integrations.rag.index import KnowledgeIndex, Mode
from integrations.rag.types import Answer, TransactionFact

QUESTIONS_FILE = Path(__file__).parent / "eval" / "questions.yaml"
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
SPLITS = ("tuning", "heldout")
_SPLIT_KEYS = {"tuning": "questions", "heldout": "heldout"}
_FIGURE = re.compile(r"\d+(?:[.,:]\d+)*")
_MARKER = re.compile(r"\[\d+\]")

EVAL_MERCHANT = "m_eval"

class LabelledQuestion(BaseModel):
    """A question with the sections that answer it and a phrase the answer must hold.

    `txn` marks a question about the asker's own payments: the answer must cite that
    ledger row; such questions count for answers, not for KB retrieval metrics.
    """

    q: str
    passages: list[str] = []
    answer: str | None = None  # quoted in YAML when it looks like a number
    user: str = "u_eval"
    txn: str | None = None
    in_domain: bool = False  # unanswerable but about payments (a fee, a country)
    split: str = "tuning"

    @property
    def kind(self) -> str:
        """kb, own (the asker's payments), unanswerable (in domain) or off_topic."""
        if self.txn:
            return "own"
        if self.passages:
            return "kb"
        return "unanswerable" if self.in_domain else "off_topic"

def load_questions(
    path: Path = QUESTIONS_FILE, split: str | None = None
) -> list[LabelledQuestion]:
    """Read the labelled set: both parts, or only `tuning` or `heldout`."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        LabelledQuestion.model_validate({**item, "split": name})
        for name in SPLITS
        if split in (None, name)
        for item in raw.get(_SPLIT_KEYS[name], [])
    ]

def load_ledger(path: Path = QUESTIONS_FILE) -> list[TransactionFact]:
    """The evaluation ledger: the askers' rows plus other users' crafted rows."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        TransactionFact.model_validate({"merchant_id": EVAL_MERCHANT, **row})
        for row in raw.get("ledger", [])
    ]

def ledger_provider(rows: list[TransactionFact]):
    """A provider over the evaluation ledger that filters like serving's query does."""

    def provider(user_id: str | None, merchant_id: str) -> list[TransactionFact]:
        return [
            r for r in rows if r.merchant_id == merchant_id and r.user_id == user_id
        ]

    return provider

def first_relevant_rank(ranked_sections: list[str], relevant: set[str]) -> int | None:
    """1-based rank of the first relevant section, or None."""
    for rank, section in enumerate(ranked_sections, start=1):
        if section in relevant:
            return rank
    return None

def retrieval_metrics(ranks: list[int | None]) -> dict[str, float]:
    """hit@3 and MRR (over the top 10) from first-relevant ranks."""
    hits = [r is not None and r <= 3 for r in ranks]
    rr = [1.0 / r if r is not None and r <= 10 else 0.0 for r in ranks]
    return {
        "hit@3": round(float(np.mean(hits)), 4),
        "mrr": round(float(np.mean(rr)), 4),
    }

def figures(text: str) -> set[str]:
    """Numbers, amounts, dates and times written in a text ([n] citation markers aside)."""
    return set(_FIGURE.findall(_MARKER.sub(" ", text)))

def is_grounded(
    answer: Answer,
    item: LabelledQuestion,
    sources: dict[str, str],
    forbidden: set[str] = frozenset(),
) -> bool:
    """Apply the answer checks described in the module docstring.

    `forbidden` holds ids of other users' payments: naming one fails the answer.
    """
    if any(f in answer.model_dump_json() for f in forbidden):
        return False
    if not item.passages and not item.txn:
        return not answer.confident and not answer.citations
    cited = {c.id: sources.get(c.id, c.snippet) for c in answer.citations}
    cited_sections = {cid.rsplit(":", 1)[0] for cid in cited}
    phrase = (item.answer or "").lower()
    text = " ".join(cited.values())
    return (
        answer.confident
        and (not item.txn or f"txn:{item.txn}" in cited)
        and (not item.passages or bool(cited_sections & set(item.passages)))
        and phrase in answer.text.lower()
        and phrase in text.lower()
        and figures(answer.text) <= figures(text)
    )

def evaluate_retrieval(index: KnowledgeIndex, items: list[LabelledQuestion]) -> dict:
    """Metrics per retrieval mode over the answerable questions."""
    answerable = [i for i in items if i.passages and not i.txn]
    out = {}
    for mode in MODES:
        ranks = []
        for item in answerable:
            hits = index.search(item.q, mode, k=10).hits
            ranks.append(
                first_relevant_rank(
                    [h.passage.section_id for h in hits], set(item.passages)
                )
            )
        out[mode] = retrieval_metrics(ranks)
    return out

def evaluate_answers(
    answer_fn,
    index: KnowledgeIndex,
    items: list[LabelledQuestion],
    ledger: list[TransactionFact] = (),
) -> dict:
    """Grounded rate and latency of `answer_fn(item) -> Answer` over all questions."""
    sources = {p.id: p.text for p in index.passages}
    grounded, latencies, rows = 0, [], []
    for item in items:
        forbidden = {r.id for r in ledger if r.user_id != item.user}
        t0 = time.perf_counter()
        answer = answer_fn(item)
        latencies.append((time.perf_counter() - t0) * 1000)
        ok = is_grounded(answer, item, sources, forbidden)
        grounded += ok
        rows.append({"q": item.q, "kind": item.kind, "grounded": ok,
                     "refused": not answer.confident})
    return {
        "grounded_rate": round(grounded / len(items), 4),
        **refusal_rates(rows),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "rows": rows,
    }

def refusal_rates(rows: list[dict]) -> dict[str, float | None]:
    """Share of "I don't know" among unanswerable in-domain, answerable and off-topic
    questions (None when a part holds none of a kind)."""

    def share(kinds: tuple[str, ...]) -> float | None:
        picked = [r["refused"] for r in rows if r["kind"] in kinds]
        return round(sum(picked) / len(picked), 4) if picked else None

    return {
        "unanswerable_refused": share(("unanswerable",)),
        "answerable_refused": share(("kb", "own")),
        "off_topic_refused": share(("off_topic",)),
    }
