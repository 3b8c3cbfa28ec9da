"""The knowledge index: passages + BM25 + dense vectors, searched alone or fused.

Hybrid search merges the BM25 and dense rankings by reciprocal rank fusion (RRF,
k=60): it needs no score calibration between the two retrievers, and a passage that
both retrievers like rises above one that only one of them ranks first. Confidence is
the best cosine similarity among the returned passages, a scale that does not depend
on how many documents the BM25 corpus holds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from integrations.rag.chunking import chunk_documents
from integrations.rag.embeddings import Embedder
from integrations.rag.lexical import BM25Index
from integrations.rag.redact import redact
from integrations.rag.stores import FaissStore, VectorStore
from integrations.rag.types import Hit, Passage
from smartpay.errors import DataFileError

Mode = Literal["bm25", "dense", "hybrid"]
RRF_K = 60
CANDIDATES = 20


class SearchResult(BaseModel):
    """Ranked passages and the retrieval confidence (best cosine similarity)."""

    hits: list[Hit]
    confidence: float


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of several rankings of row numbers, best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking):
            scores[row] = scores.get(row, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def kb_digest(docs: dict[str, str]) -> str:
    """A fingerprint of the knowledge base text, to detect a stale index."""
    payload = json.dumps(docs, sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def read_kb(kb_dir: Path) -> dict[str, str]:
    """{doc_id: markdown} for every `*.md` under the knowledge-base folder, redacted."""
    files = sorted(Path(kb_dir).glob("*.md"))
    if not files:
        raise DataFileError(kb_dir, "no markdown files: expected the knowledge base (*.md)")
    return {p.stem: redact(p.read_text(encoding="utf-8")) for p in files}


class KnowledgeIndex:
    """Searchable passages of the knowledge base."""

    def __init__(
        self, passages: list[Passage], embedder: Embedder, store: VectorStore, digest: str
    ) -> None:
        self.passages, self.embedder, self.store, self.digest = passages, embedder, store, digest
        self.bm25 = BM25Index([p.search_text for p in passages])

    @classmethod
    def build(
        cls, docs: dict[str, str], embedder: Embedder, store: VectorStore | None = None,
        chunk_words: int = 60, overlap_words: int = 15,
    ) -> "KnowledgeIndex":
        """Chunk, embed and index a knowledge base given as {doc_id: markdown}."""
        docs = {k: redact(v) for k, v in docs.items()}
        passages = chunk_documents(docs, chunk_words, overlap_words)
        vectors = embedder.embed([p.search_text for p in passages])
        store = store if store is not None else FaissStore(vectors.shape[1])
        store.add(vectors)
        return cls(passages, embedder, store, kb_digest(docs))

    def search(self, query: str, mode: Mode = "hybrid", k: int = 4) -> SearchResult:
        """Top-k passages for a query by BM25, dense similarity or both fused."""
        query = redact(query)
        lexical = self.bm25.search(query, CANDIDATES) if mode != "dense" else []
        dense = (
            self.store.search(self.embedder.embed([query])[0], CANDIDATES)
            if mode != "bm25" else []
        )
        cosine = dict(dense)
        if mode == "bm25":
            ranked = lexical
        elif mode == "dense":
            ranked = dense
        else:
            ranked = rrf([[r for r, _ in lexical], [r for r, _ in dense]])
        hits = [Hit(passage=self.passages[r], score=s) for r, s in ranked[:k]]
        confidence = max((cosine.get(r, 0.0) for r, _ in ranked[:k]), default=0.0)
        return SearchResult(hits=hits, confidence=confidence)

    def save(self, folder: Path) -> None:
        """Write passages, the FAISS index and metadata into a folder."""
        folder.mkdir(parents=True, exist_ok=True)
        lines = "\n".join(p.model_dump_json() for p in self.passages)
        (folder / "passages.jsonl").write_text(lines + "\n", encoding="utf-8")
        if isinstance(self.store, FaissStore):
            self.store.save(folder / "dense.faiss")
        meta = {"embedder": self.embedder.name, "passages": len(self.passages),
                "digest": self.digest}
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
                folder, f"built with embedder {meta['embedder']!r}, expected {embedder.name!r}"
            )
        text = (folder / "passages.jsonl").read_text(encoding="utf-8")
        passages = [Passage.model_validate_json(line) for line in text.splitlines() if line]
        store = store if store is not None else FaissStore.load(folder / "dense.faiss")
        return cls(passages, embedder, store, meta["digest"])
