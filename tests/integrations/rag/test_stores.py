"""TTL stores (in-process and Redis), FAISS persistence and OpenSearch request bodies."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from integrations.rag.assistant import Assistant
from integrations.rag.config import rag_config
from integrations.rag.memory import MemoryTTLStore, RedisTTLStore
from integrations.rag.stores import (
    FaissStore,
    opensearch_knn_query,
    opensearch_mapping,
    opensearch_score_to_cosine,
)
from smartpay.errors import InputError
from smartpay.settings import Settings
from tests.integrations.rag.conftest import Ledger, fact


def test_an_in_process_entry_is_gone_after_its_ttl_and_present_before():
    now = [100.0]
    store = MemoryTTLStore(ttl_s=10, clock=lambda: now[0])
    store.set("k", "v")
    now[0] = 109.9
    assert store.get("k") == "v"
    now[0] = 110.0
    assert store.get("k") is None


def test_the_in_process_store_drops_the_oldest_entry_beyond_its_size_bound():
    store = MemoryTTLStore(ttl_s=60, maxsize=2)
    for key in "abc":
        store.set(key, key)
    assert store.get("a") is None and store.get("c") == "c"


def test_a_faiss_index_saved_to_disk_returns_the_same_neighbours(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = FaissStore(8)
    store.add(vectors)
    store.save(tmp_path / "i.faiss")
    loaded = FaissStore.load(tmp_path / "i.faiss")
    assert loaded.search(vectors[7], 3) == store.search(vectors[7], 3)
    assert loaded.search(vectors[7], 1)[0][0] == 7


def test_the_opensearch_mapping_declares_a_cosine_knn_field_of_the_embedding_size():
    field = opensearch_mapping(384)["mappings"]["properties"]["embedding"]
    assert field["type"] == "knn_vector" and field["dimension"] == 384
    assert field["method"]["space_type"] == "cosinesimil"


def test_the_opensearch_query_asks_for_k_neighbours_of_the_vector():
    body = opensearch_knn_query(np.array([0.5, -0.5], dtype="float32"), 4)
    assert body["size"] == 4 and body["query"]["knn"]["embedding"] == {
        "vector": [0.5, -0.5],
        "k": 4,
    }


def test_opensearch_cosine_scores_are_mapped_back_to_cosine_similarity():
    assert (
        opensearch_score_to_cosine(1.0) == 1.0
        and opensearch_score_to_cosine(0.5) == 0.0
    )


def test_the_prod_profile_defaults_to_openai_opensearch_and_redis():
    config = rag_config(Settings(profile="prod"), environ={})
    assert (config.embedder, config.store, config.cache) == (
        "openai",
        "opensearch",
        "redis",
    )


def test_each_choice_can_be_overridden_and_openai_env_vars_are_read(monkeypatch):
    monkeypatch.setenv("SMARTPAY_RAG__CACHE", "redis")
    config = rag_config(
        Settings(profile="local"),
        environ={"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://x/v1"},
    )
    assert config.cache == "redis" and config.use_openai_chat
    assert config.openai_base_url == "http://x/v1" and config.embedder == "minilm"


def test_a_bad_rag_setting_is_rejected_naming_the_field(monkeypatch):
    monkeypatch.setenv("SMARTPAY_RAG__EMBEDDER", "word2vec")
    with pytest.raises(ValueError) as err:
        Settings(profile="local")
    assert "embedder" in str(err.value)


@pytest.mark.prod
def test_redis_entries_expire_and_are_shared_between_processes(prod_server):
    host, port = prod_server("redis")
    prefix = f"test:rag:{uuid.uuid4().hex}:"
    one = RedisTTLStore.from_url(f"redis://{host}:{port}/0", prefix, ttl_s=30)
    two = RedisTTLStore.from_url(f"redis://{host}:{port}/0", prefix, ttl_s=30)
    one.set("k", "v")
    assert two.get("k") == "v" and 0 < one.client.ttl(prefix + "k") <= 30
    one.client.delete(prefix + "k")


@pytest.mark.prod
def test_a_redis_cached_answer_is_served_to_its_user_only(
    prod_server, kb_index, config
):
    host, port = prod_server("redis")
    url, prefix = f"redis://{host}:{port}/0", f"test:rag:{uuid.uuid4().hex}:"
    rows = [
        fact("pay_A1111", "a", 1250, "declined", 20, code="D01"),
        fact("pay_B9999", "b", 5000, "declined", 21, code="D03"),
    ]

    def process():  # two assistants sharing Redis, as two serving workers would
        return Assistant(
            kb_index,
            config,
            Ledger(rows),
            cache=RedisTTLStore.from_url(url, prefix + "c:", 3600),
            sessions=RedisTTLStore.from_url(url, prefix + "s:", 1800),
        )

    first, second = process(), process()
    mine = first.answer("Why was my payment declined?", "a", "m_1")
    again = second.answer("Why was my payment declined?", "a", "m_1")
    other = second.answer("Why was my payment declined?", "b", "m_1")
    try:
        assert again.cached and again.text == mine.text
        assert (
            not other.cached
            and "pay_A1111" not in other.text
            and "pay_B9999" in other.text
        )
    finally:
        keys = first.cache.client.keys(prefix + "*")
        if keys:
            first.cache.client.delete(*keys)
