"""BM25 over passages with `bm25s`, plus the tokenizer shared by the grounded answerer.

The tokenizer lower-cases, drops English stop words and applies a tiny suffix stemmer
(refunds/refunded/refunding -> refund) because PyStemmer is not a dependency and guide
text needs little more than plural and tense folding.
"""

from __future__ import annotations

import re

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*")
STOPWORDS = frozenset(
    """
    a an and are as at be been but by can could did do does doing for from had has
    have how i if in into is it its me my of on or our should so than that the
    their them then there these they this those to too up us was we were what when
    where which while who why will with would you your yours mine am any about
    after again all also just more most not no only other out over same some such
    very get got
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
_SUFFIXES = ("ing", "ed", "es", "s")


def stem(word: str) -> str:
    """Fold common English suffixes; keeps short words and codes like d01 intact."""
    if len(word) <= 4 or any(ch.isdigit() for ch in word):
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 5 else word


def tokens(text: str) -> list[str]:
    """Content-word stems of a text."""
    words = _WORD.findall(text.lower())
    out = []
    for w in words:
        if w in STOPWORDS:
            continue
        out.append(stem(w))
        if "_" in w:  # reason names like insufficient_funds also match their parts
            out += [stem(p) for p in w.split("_") if p not in STOPWORDS]
    return out


class BM25Index:
    """BM25 ranking of a fixed list of texts; zero-score documents are not returned."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.size = len(texts)
        self.model = bm25s.BM25()
        self.model.index([tokens(t) or ["_empty_"] for t in texts], show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-k (row, score) pairs with a positive score."""
        query_tokens = tokens(query)
        if not query_tokens or self.size == 0:
            return []
        rows, scores = self.model.retrieve(
            [query_tokens], k=min(k, self.size), show_progress=False
        )
        return [
            (int(r), float(s))
            for r, s in zip(rows[0], scores[0])
            if s > 0 and np.isfinite(s)
        ]
