"""Caches with the seed's TTLs: in-process locally, Redis in prod. Values are JSON-able."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

# The seed's cache TTLs, in seconds, by namespace. Routing has none here: every payment
# gets its own sampled decision and propensity from the router (what a decision is
# computed from, the per-segment gateway statistics, lives in the router itself).
TTL_S: dict[str, int] = {"risk": 30 * 60, "balance": 5 * 60, "chat": 60 * 60}


class Cache(Protocol):
    """A namespaced cache; the namespace picks the TTL (risk, balance, chat)."""

    async def get(self, ns: str, key: str) -> Any | None: ...
    async def set(self, ns: str, key: str, value: Any) -> None: ...
    async def delete(self, ns: str, key: str) -> None: ...
    async def close(self) -> None: ...


class LocalCache:
    """One bounded TTL cache per namespace, inside this process.

    Entries are kept as `(expires_at, json_text)` in an insertion-ordered dict: with
    one TTL per namespace, insertion order is expiry order, so expired and surplus
    entries leave from the front. Holding text rather than live dicts matters under
    load: a tuple of a float and a str is not tracked by the garbage collector,
    whereas 100,000 cached results as dicts and lists (plus a TTL library's per-entry
    link objects) made each full collection stall the event loop for 50-170 ms.
    """

    def __init__(self, maxsize: int = 100_000, ttl_s: dict[str, int] | None = None,
                 clock=time.monotonic) -> None:
        self._ttl = dict(ttl_s or TTL_S)
        self._maxsize, self._clock = maxsize, clock
        self._caches: dict[str, dict[str, tuple[float, str]]] = {ns: {} for ns in self._ttl}

    async def get(self, ns: str, key: str) -> Any | None:
        entries = self._caches[ns]
        hit = entries.get(key)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            self._expire(entries)
            return None
        return json.loads(hit[1])

    async def set(self, ns: str, key: str, value: Any) -> None:
        entries = self._caches[ns]
        entries.pop(key, None)  # re-inserted at the back: order stays expiry order
        entries[key] = (self._clock() + self._ttl[ns], json.dumps(value))
        self._expire(entries)

    async def delete(self, ns: str, key: str) -> None:
        self._caches[ns].pop(key, None)

    async def close(self) -> None:
        for c in self._caches.values():
            c.clear()

    def _expire(self, entries: dict[str, tuple[float, str]]) -> None:
        now = self._clock()
        while entries:
            first = next(iter(entries))
            if entries[first][0] > now and len(entries) <= self._maxsize:
                return
            del entries[first]


class RedisCache:
    """Shared cache in Redis: `smartpay:<ns>:<key>` with the namespace's TTL."""

    def __init__(self, url: str, prefix: str = "smartpay") -> None:
        import redis.asyncio as aioredis

        self._r = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix

    def _k(self, ns: str, key: str) -> str:
        return f"{self._prefix}:{ns}:{key}"

    async def get(self, ns: str, key: str) -> Any | None:
        raw = await self._r.get(self._k(ns, key))
        return None if raw is None else json.loads(raw)

    async def set(self, ns: str, key: str, value: Any) -> None:
        await self._r.set(self._k(ns, key), json.dumps(value), ex=TTL_S[ns])

    async def delete(self, ns: str, key: str) -> None:
        await self._r.delete(self._k(ns, key))

    async def close(self) -> None:
        await self._r.aclose()
