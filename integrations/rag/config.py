"""Assistant configuration: which embedder, vector store, cache and generator to use.

The profile of `smartpay.settings` picks the defaults (local: MiniLM + FAISS + in-process
cache; prod: OpenAI embeddings + OpenSearch + Redis); each choice can be overridden with
`SMARTPAY_RAG__<FIELD>` (the `rag` section of the settings tree). The OpenAI key and base URL also come from the standard
`OPENAI_API_KEY` / `OPENAI_BASE_URL` variables. Reading this has no side effects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr

from integrations.rag.chunking import CHUNK_WORDS, OVERLAP_WORDS
from smartpay.settings import Settings

# Package data: the guides ship in the wheel and in the Bento.
DEFAULT_KB_DIR = Path(__file__).resolve().parent / "kb"

Embedder = Literal["minilm", "openai"]
Store = Literal["faiss", "opensearch"]
Cache = Literal["memory", "redis"]


class RagConfig(BaseModel):
    """Everything the assistant needs to know, resolved from settings and environment."""

    kb_dir: Path = DEFAULT_KB_DIR
    index_dir: Path
    embedder: Embedder = "minilm"
    store: Store = "faiss"
    cache: Cache = "memory"
    redis_url: str = ""
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_index: str = "smartpay-kb"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    chunk_words: int = CHUNK_WORDS
    overlap_words: int = OVERLAP_WORDS
    top_k: int = 4
    # Best cosine similarity below which the assistant says it does not know. On the
    # labelled set MiniLM gives answerable questions >= 0.36, off-topic ones <= 0.14.
    min_confidence: float = 0.25
    torch_threads: int = 1
    cache_ttl_s: int = 3600
    session_ttl_s: int = 1800
    session_turns: int = 6

    @property
    def use_openai_chat(self) -> bool:
        """Generate with the OpenAI client only when a key is configured."""
        return self.openai_api_key is not None


_PROFILE_DEFAULTS = {
    "local": {"embedder": "minilm", "store": "faiss", "cache": "memory"},
    "prod": {"embedder": "openai", "store": "opensearch", "cache": "redis"},
}


def rag_config(settings: Settings, environ: dict[str, str] | None = None) -> RagConfig:
    """Resolve the assistant configuration from the settings tree (`settings.rag`,
    i.e. `SMARTPAY_RAG__<FIELD>`) and the standard OpenAI variables."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = dict(_PROFILE_DEFAULTS[settings.profile])
    values["index_dir"] = settings.paths.kb_index
    values["redis_url"] = settings.redis_url or "redis://127.0.0.1:6379/0"
    key = env.get("OPENAI_API_KEY") or (
        settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    )
    values["openai_api_key"] = key or None
    values["openai_base_url"] = env.get("OPENAI_BASE_URL") or None
    values.update(settings.rag.model_dump(exclude_none=True))
    return RagConfig.model_validate(values)
