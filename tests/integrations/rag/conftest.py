"""Fixtures for the assistant: one MiniLM model and one KB index per test session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.rag.config import DEFAULT_KB_DIR, RagConfig
from integrations.rag.embeddings import MiniLMEmbedder
from integrations.rag.index import KnowledgeIndex, kb_digest, read_kb
from integrations.rag.types import TransactionFact
from smartpay.errors import DataFileError


class RecordingEmbedder:
    """Delegates to a real embedder and keeps every text it was asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seen = inner, inner.name, inner.dim, []

    def embed(self, texts):
        self.seen += list(texts)
        return self.inner.embed(texts)


class Ledger:
    """An in-memory ledger whose query filters by merchant and user, as serving's does."""

    def __init__(self, rows: list[TransactionFact], leaky: bool = False) -> None:
        self.rows, self.leaky, self.calls = rows, leaky, []

    def __call__(self, user_id: str, merchant_id: str) -> list[TransactionFact]:
        self.calls.append((user_id, merchant_id))
        if self.leaky:  # a buggy provider that forgets its WHERE clause
            return list(self.rows)
        return [
            r
            for r in self.rows
            if r.user_id == user_id and r.merchant_id == merchant_id
        ]


def fact(
    id, user, amount, status, day, code=None, desc="", merchant="m_1"
) -> TransactionFact:
    """A ledger row for tests."""
    return TransactionFact(
        id=id,
        merchant_id=merchant,
        user_id=user,
        amount_minor=amount,
        currency="USD",
        status=status,
        created_at=datetime(2026, 11, day, 12, tzinfo=UTC),
        reason_code=code,
        description=desc,
    )


@pytest.fixture(scope="session")
def embedder():
    """The real MiniLM model, loaded once."""
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def kb_index(embedder, request) -> KnowledgeIndex:
    """The project's knowledge base, chunked and embedded once.

    Embedding ~350 texts takes 15-25 s on the busy shared box, so the built index is kept
    in pytest's cache and reused while the KB text and chunk sizes are unchanged.
    """
    docs = read_kb(DEFAULT_KB_DIR)
    folder = Path(request.config.cache.mkdir("rag_kb_index"))
    try:
        index = KnowledgeIndex.load(folder, embedder)
        if index.digest == kb_digest(docs):
            return index
    except (DataFileError, OSError, ValueError):
        pass
    index = KnowledgeIndex.build(docs, embedder)
    index.save(folder)
    return index


@pytest.fixture
def config(tmp_path) -> RagConfig:
    """Local-profile assistant configuration with an index dir under tmp."""
    return RagConfig(index_dir=tmp_path / "kb")
