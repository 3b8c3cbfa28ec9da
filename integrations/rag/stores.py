"""Vector stores: FAISS (embedded default) and an OpenSearch k-NN adapter (prod profile).

Why FAISS for the embedded default: it is already a dependency, needs no server and no
SQLite extension loading (this Python's sqlite3 cannot load sqlite-vec without swapping
in pysqlite3-binary), and an exact `IndexFlatIP` over a few hundred normalised 384-dim
vectors answers in well under a millisecond, so approximate indexes buy nothing here.
LanceDB would add a columnar dataset format we do not need for a KB of this size. The
index file is written next to the passages so `smartpay kb build` output is portable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class VectorStore(Protocol):
    """Nearest passages by cosine similarity: returns (row index, similarity) pairs."""

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]: ...


class FaissStore:
    """Exact inner-product search over normalised vectors, persisted with faiss.write_index."""

    def __init__(self, dim: int, index=None) -> None:
        import faiss

        self.dim = dim
        self.index = index if index is not None else faiss.IndexFlatIP(dim)

    def add(self, vectors: np.ndarray) -> None:
        """Append vectors; row i of the store is passage i."""
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k rows by cosine similarity."""
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        scores, rows = self.index.search(query, min(k, self.index.ntotal))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def save(self, path: Path) -> None:
        """Write the index file."""
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> FaissStore:
        """Read an index written by `save`."""
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)


def opensearch_mapping(dim: int) -> dict:
    """Index body: a k-NN vector field (HNSW, cosine) plus the passage fields."""
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "properties": {
                "row": {"type": "integer"},
                "embedding": {
                    "type": "knn_vector",
                    "dimension": dim,
                    "method": {
                        "name": "hnsw",
                        "space_type": "cosinesimil",
                        "engine": "lucene",
                    },
                },
            }
        },
    }


def opensearch_knn_query(vector: np.ndarray, k: int) -> dict:
    """Search body for the k nearest rows to a vector."""
    return {
        "size": k,
        "_source": ["row"],
        "query": {"knn": {"embedding": {"vector": [float(x) for x in vector], "k": k}}},
    }


def opensearch_score_to_cosine(score: float) -> float:
    """OpenSearch reports cosinesimil as (1 + cos) / 2 for the lucene engine; undo it."""
    return 2.0 * score - 1.0


class OpenSearchStore:
    """k-NN index in OpenSearch (prod). Rows are passage positions, like FaissStore.

    Untested against a live cluster on this machine (no OpenSearch server is available);
    the request bodies are built by the pure functions above, which are tested.
    """

    def __init__(self, client, index: str, dim: int) -> None:
        self.client, self.index, self.dim = client, index, dim
        self._count = 0

    @classmethod
    def connect(cls, url: str, index: str, dim: int) -> OpenSearchStore:
        """Client for a cluster URL (auth, if any, in the URL or the environment)."""
        from opensearchpy import OpenSearch

        return cls(OpenSearch(hosts=[url], timeout=10), index, dim)

    def recreate(self) -> None:
        """Drop and create the index with the k-NN mapping."""
        self.client.indices.delete(index=self.index, ignore_unavailable=True)
        self.client.indices.create(index=self.index, body=opensearch_mapping(self.dim))

    def add(self, vectors: np.ndarray) -> None:
        """Bulk-index vectors as consecutive rows, then refresh."""
        from opensearchpy.helpers import bulk

        actions = [
            {
                "_index": self.index,
                "_id": str(self._count + i),
                "row": self._count + i,
                "embedding": [float(x) for x in v],
            }
            for i, v in enumerate(vectors)
        ]
        bulk(self.client, actions)
        self.client.indices.refresh(index=self.index)
        self._count += len(actions)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k rows with cosine similarity recovered from the OpenSearch score."""
        reply = self.client.search(
            index=self.index, body=opensearch_knn_query(vector, k)
        )
        return [
            (int(h["_source"]["row"]), opensearch_score_to_cosine(float(h["_score"])))
            for h in reply["hits"]["hits"]
        ]
