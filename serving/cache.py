"""Caches with the seed's TTLs: in-process locally, Redis in prod. Values are JSON-able."""

from __future__ import annotations

import json
from typing import Any, Protocol

from cachetools import TTLCache

from serving.config import TTL_S


class Cache(Protocol):
    """A namespaced cache; the namespace picks the TTL (risk, route, balance, chat)."""

    async def get(self, ns: str, key: str) -> Any | None: ...
    async def set(self, ns: str, key: str, value: Any) -> None: ...
    async def delete(self, ns: str, key: str) -> None: ...
    async def close(self) -> None: ...


class LocalCache:
    """One bounded TTL cache per namespace, inside this process."""

    def __init__(self, maxsize: int = 100_000, ttl_s: dict[str, int] | None = None) -> None:
        ttl = ttl_s or TTL_S
        self._caches = {ns: TTLCache(maxsize, s) for ns, s in ttl.items()}

    async def get(self, ns: str, key: str) -> Any | None:
        return self._caches[ns].get(key)

    async def set(self, ns: str, key: str, value: Any) -> None:
        self._caches[ns][key] = value

    async def delete(self, ns: str, key: str) -> None:
        self._caches[ns].pop(key, None)

    async def close(self) -> None:
        for c in self._caches.values():
            c.clear()


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
