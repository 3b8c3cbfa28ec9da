"""Gateway statistics shared through Feast by every router process.

A served router pushes the `gateway_stats` rows its outcomes changed (the push source
`gateway_stats_push`, written online like the fresh fraud features) and reads every
segment's rows back through the FeatureService `routing_v1`: the rows all router
processes pushed, which is what its decisions are computed from.

Both calls block (Feast's online store is synchronous); serving runs them in a
background task off the event loop (`serving.router_stats`). The decision path only
reads `features(segment)`, a dict lookup in the last refresh: no Feast call per
request. A refresh older than `ttl_s` is not used (the router falls back to its own
rows), so the routing TTL bounds the age of the statistics, never the sampled action.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from features.fresh import views_of, write_rows
from models.router.stats import FEATURES, PRIOR_ROW, gateway_segment

PUSH_SOURCE = "gateway_stats_push"
FEATURE_SERVICE = "routing_v1"


def context_from_online(values: dict[str, list], n_segments: int, k: int) -> np.ndarray:
    """segments x K x 4 statistics from `get_online_features(...).to_dict()` of
    entity rows laid out segment-major (every gateway of a segment together); a key
    the store has no row for reads as the prior, as in the router's own rows."""
    out = np.empty((n_segments * k, len(FEATURES)))
    for j, name in enumerate(FEATURES):
        col = np.array([np.nan if v is None else v for v in values[name]], dtype=float)
        out[:, j] = np.where(np.isnan(col), PRIOR_ROW[j], col)
    return out.reshape(n_segments, k, len(FEATURES))


class SharedStats:
    """The router's Feast edge: `push` a policy's changed rows, `refresh` the cached
    rows of its segments, and `features(segment)` for the decision path.
    `open_store` is called once, at the first push or refresh (in the caller's thread)."""

    def __init__(self, open_store: Callable[[], Any], names: list[str], ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._open_store, self.names, self.ttl_s = open_store, list(names), ttl_s
        self._clock = clock
        self._store, self._views, self._service = None, None, None
        self._cache: dict[str, tuple[float, np.ndarray]] = {}
        self.pushed = 0

    def features(self, segment: str) -> np.ndarray | None:
        """K x 4 shared statistics of a segment, or None if not read within `ttl_s`."""
        hit = self._cache.get(segment)
        if hit is None or self._clock() - hit[0] > self.ttl_s:
            return None
        return hit[1]

    def use_names(self, names: list[str]) -> None:
        """Follow the served router's gateways (a reloaded champion may route others):
        cached rows of other gateways are dropped."""
        if list(names) != self.names:
            self.names, self._cache = list(names), {}

    def _ready(self):
        if self._store is None:
            store = self._open_store()
            self._views = views_of(store, PUSH_SOURCE)
            self._service = store.get_feature_service(FEATURE_SERVICE)
            self._store = store
        return self._store

    def push(self, policy) -> int:
        """Write the rows `policy` changed since the last push (a `RouterPolicy`); on a
        failure they are handed back, so the next push writes their newest values.
        Returns the number of rows written."""
        rows, batch = policy.take_rows()
        if not rows:
            return 0
        try:
            write_rows(self._ready(), self._views, rows)
        except BaseException:
            policy.requeue(batch)
            raise
        policy.confirm(batch)
        self.pushed += len(rows)
        return len(rows)

    def refresh(self, segments: list[str]) -> int:
        """Read every gateway's row of `segments` through `routing_v1` and cache them
        (replacing the cache at once: a decision sees the old or the new, whole)."""
        store = self._ready()
        if not segments:
            return 0
        entity_rows = [{"gateway_segment": gateway_segment(g, s)}
                       for s in segments for g in self.names]
        values = store.get_online_features(features=self._service,
                                           entity_rows=entity_rows).to_dict()
        stats = context_from_online(values, len(segments), len(self.names))
        now = self._clock()
        cache = dict(self._cache)
        cache.update({s: (now, stats[i]) for i, s in enumerate(segments)})
        self._cache = cache
        return len(segments)
