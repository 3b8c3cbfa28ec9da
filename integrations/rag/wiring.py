"""Edge step: turn a RagConfig into concrete embedder, store, index, generator and stores.

Everything that opens a connection or touches files lives here, so the rest of the
package stays pure and testable with in-memory parts.
"""

from __future__ import annotations

import logging

from integrations.rag.config import RagConfig
from integrations.rag.embeddings import Embedder, MiniLMEmbedder, OpenAIEmbedder
from integrations.rag.index import KnowledgeIndex, kb_digest, read_kb
from integrations.rag.llm import OpenAIGenerator
from integrations.rag.memory import MemoryTTLStore, RedisTTLStore, TTLStore
from integrations.rag.stores import OpenSearchStore

log = logging.getLogger("integrations.rag")


def openai_client(config: RagConfig):
    """The official OpenAI client for the configured key and optional base URL."""
    from openai import OpenAI

    key = config.openai_api_key.get_secret_value() if config.openai_api_key else "unset"
    return OpenAI(
        api_key=key, base_url=config.openai_base_url, max_retries=1, timeout=30
    )


def make_embedder(config: RagConfig) -> Embedder:
    """MiniLM offline, or OpenAI embeddings when configured."""
    if config.embedder == "openai":
        return OpenAIEmbedder(openai_client(config), config.embedding_model)
    return MiniLMEmbedder(config.torch_threads)


def build_index(config: RagConfig, embedder: Embedder | None = None) -> KnowledgeIndex:
    """Chunk and embed the KB; with OpenSearch the vectors are (re)written to the cluster."""
    embedder = embedder or make_embedder(config)
    docs = read_kb(config.kb_dir)
    store = None
    if config.store == "opensearch":
        dim = embedder.embed(["dimension probe"]).shape[1]
        store = OpenSearchStore.connect(
            config.opensearch_url, config.opensearch_index, dim
        )
        store.recreate()
    return KnowledgeIndex.build(
        docs, embedder, store, config.chunk_words, config.overlap_words
    )


def load_or_build_index(config: RagConfig, embedder: Embedder | None = None):
    """The saved index when it matches the current KB text, else a fresh in-memory one."""
    embedder = embedder or make_embedder(config)
    meta = config.index_dir / "meta.json"
    if meta.exists():
        store = None
        if config.store == "opensearch":
            store = OpenSearchStore.connect(
                config.opensearch_url, config.opensearch_index, 0
            )
        index = KnowledgeIndex.load(config.index_dir, embedder, store)
        docs = read_kb(config.kb_dir)
        if index.digest == kb_digest(docs, config.chunk_words, config.overlap_words):
            return index
        log.warning(
            "knowledge index at %s is stale; rebuilding in memory", config.index_dir
        )
    return build_index(config, embedder)


def make_generator(config: RagConfig) -> OpenAIGenerator | None:
    """An OpenAI generator when a key is configured; None means the offline answerer."""
    if not config.use_openai_chat:
        return None
    return OpenAIGenerator(openai_client(config), config.chat_model)


def make_stores(config: RagConfig) -> tuple[TTLStore, TTLStore]:
    """(answer cache, session memory) for the configured backend."""
    if config.cache == "redis":
        return (
            RedisTTLStore.from_url(
                config.redis_url, "smartpay:chat:cache:", config.cache_ttl_s
            ),
            RedisTTLStore.from_url(
                config.redis_url, "smartpay:chat:session:", config.session_ttl_s
            ),
        )
    return MemoryTTLStore(config.cache_ttl_s), MemoryTTLStore(config.session_ttl_s)
