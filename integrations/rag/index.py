"""The knowledge index: passages + BM25 + dense vectors, searched alone or fused.

Hybrid search merges the BM25 and dense rankings by weighted reciprocal rank fusion
(RRF, k=60): it needs no score calibration between the two retrievers, and a passage
that both retrievers like rises above one that only one of them ranks first. BM25 counts
half as much as dense because support questions are paraphrases of the guides (on the
tuning part of the labelled set: weights 0.25-0.75 give hit@3 0.938, 0.5 the best MRR;
the held-out part was not looked at to choose it). Every sentence is embedded too, so the grounded answerer
can pick the sentences that answer a paraphrased question (each embedded with its
section title, which carries the topic a lone sentence often lacks). Confidence is
the best cosine similarity among the returned passages, a scale that does not depend
on how many documents the BM25 corpus holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from integrations.rag.chunking import (
    CHUNK_WORDS,
    OVERLAP_WORDS,
    chunk_documents,
    sentences,
)
from integrations.rag.embeddings import Embedder
from integrations.rag.lexical import BM25Index
from integrations.rag.redact import redact
from integrations.rag.scope import kb_vocabulary
from integrations.rag.stores import FaissStore, VectorStore
from integrations.rag.types import Hit, Passage
from smartpay.errors import DataFileError

Mode = Literal["bm25", "dense", "hybrid"]
RRF_K = 60
BM25_WEIGHT = 0.5
CANDIDATES = 20


@dataclass(frozen=True)
class SearchResult:
    """Ranked passages, the retrieval confidence (best cosine) and the query vector."""

    hits: list[Hit]
    confidence: float
    query_vector: np.ndarray | None = None


def rrf(
    rankings: list[list[int]], weights: list[float] | None = None, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of rankings of row numbers, best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def kb_digest(
    docs: dict[str, str],
    chunk_words: int = CHUNK_WORDS,
    overlap_words: int = OVERLAP_WORDS,
) -> str:
    """A fingerprint of the KB text and chunking, to detect a stale index."""
    payload = json.dumps([docs, chunk_words, overlap_words], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def read_kb(kb_dir: Path) -> dict[str, str]:
    """{doc_id: markdown} for every `*.md` under the knowledge-base folder, redacted."""
    files = sorted(Path(kb_dir).glob("*.md"))
    if not files:
        raise DataFileError(
            kb_dir, "no markdown files: expected the knowledge base (*.md)"
        )
    return {p.stem: redact(p.read_text(encoding="utf-8")) for p in files}


class KnowledgeIndex:
    """Searchable passages of the knowledge base."""

    def __init__(
        self,
        passages: list[Passage],
        embedder: Embedder,
        store: VectorStore,
        digest: str,
        sentence_vectors: np.ndarray,
    ) -> None:
        self.passages, self.embedder, self.store, self.digest = (
            passages,
            embedder,
            store,
            digest,
        )
        self.bm25 = BM25Index([p.search_text for p in passages])
        self.vocabulary = kb_vocabulary(p.search_text for p in passages)
        self.rows = {p.id: i for i, p in enumerate(passages)}
        counts = [len(sentences(p.text)) for p in passages]
        if sum(counts) != len(sentence_vectors):
            raise DataFileError(
                "sentences.npy", f"{len(sentence_vectors)} rows, expected {sum(counts)}"
            )
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        self.sentence_vectors = sentence_vectors

    def sentence_similarities(
        self, passage: Passage, query_vector: np.ndarray
    ) -> list[float]:
        """Cosine similarity of each sentence of a KB passage to the query."""
        row = self.rows.get(passage.id)
        if row is None or query_vector is None:
            return []
        block = self.sentence_vectors[self._offsets[row] : self._offsets[row + 1]]
        return [float(x) for x in block @ query_vector]

    @classmethod
    def build(
        cls,
        docs: dict[str, str],
        embedder: Embedder,
        store: VectorStore | None = None,
        chunk_words: int = CHUNK_WORDS,
        overlap_words: int = OVERLAP_WORDS,
    ) -> KnowledgeIndex:
        """Chunk, embed and index a knowledge base given as {doc_id: markdown}."""
        docs = {k: redact(v) for k, v in docs.items()}
        passages = chunk_documents(docs, chunk_words, overlap_words)
        vectors = embedder.embed([p.search_text for p in passages])
        sentence_vectors = embedder.embed(
            [f"{p.title}. {s}" for p in passages for s in sentences(p.text)]
        )
        store = store if store is not None else FaissStore(vectors.shape[1])
        store.add(vectors)
        digest = kb_digest(docs, chunk_words, overlap_words)
        return cls(passages, embedder, store, digest, sentence_vectors)

    def search(self, query: str, mode: Mode = "hybrid", k: int = 4) -> SearchResult:
        """Top-k passages for a query by BM25, dense similarity or both fused."""
        query = redact(query)
        lexical = self.bm25.search(query, CANDIDATES) if mode != "dense" else []
        vector = self.embedder.embed([query])[0] if mode != "bm25" else None
        dense = self.store.search(vector, CANDIDATES) if vector is not None else []
        cosine = dict(dense)
        if mode == "bm25":
            ranked = lexical
        elif mode == "dense":
            ranked = dense
        else:
            ranked = rrf(
                [[r for r, _ in lexical], [r for r, _ in dense]], [BM25_WEIGHT, 1.0]
            )
        hits = [Hit(passage=self.passages[r], score=s) for r, s in ranked[:k]]
        confidence = max((cosine.get(r, 0.0) for r, _ in ranked[:k]), default=0.0)
        return SearchResult(hits=hits, confidence=confidence, query_vector=vector)

    def titled(self, term: str) -> list[Passage]:
        """Passages whose section title names a term, e.g. a reason code like `D01`."""
        pattern = re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.IGNORECASE)
        return [p for p in self.passages if pattern.search(p.title.split(": ", 1)[-1])]

    def save(self, folder: Path) -> None:
        """Write passages, the FAISS index and metadata into a folder."""
        folder.mkdir(parents=True, exist_ok=True)
        lines = "\n".join(p.model_dump_json() for p in self.passages)
        (folder / "passages.jsonl").write_text(lines + "\n", encoding="utf-8")
        if isinstance(self.store, FaissStore):
            self.store.save(folder / "dense.faiss")
        np.save(folder / "sentences.npy", self.sentence_vectors)
        meta = {
            "embedder": self.embedder.name,
            "passages": len(self.passages),
            "digest": self.digest,
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, embedder: Embedder, store: VectorStore | None = None):
        """Read an index written by `save`; the embedder must be the one it was built with."""
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            raise DataFileError(folder, "no knowledge index: run `smartpay kb build`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta["embedder"] != embedder.name:
            raise DataFileError(
                folder,
                f"built with embedder {meta['embedder']!r}, expected {embedder.name!r}",
            )
        text = (folder / "passages.jsonl").read_text(encoding="utf-8")
        passages = [
            Passage.model_validate_json(line) for line in text.splitlines() if line
        ]
        store = store if store is not None else FaissStore.load(folder / "dense.faiss")
        sentence_vectors = np.load(folder / "sentences.npy")
        return cls(passages, embedder, store, meta["digest"], sentence_vectors)
