"""Small TTL key-value stores for session memory and the answer cache.

In-process by default (a dict with expiry and a size bound), Redis in prod (SETEX), both
behind the same two methods so the assistant does not care which one it has.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class TTLStore(Protocol):
    """get/set of string values that expire `ttl_s` seconds after being set."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryTTLStore:
    """Thread-safe in-process TTL store; evicts the oldest entry beyond `maxsize`."""

    def __init__(
        self,
        ttl_s: float,
        maxsize: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.maxsize, self.clock = ttl_s, maxsize, clock
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The value if present and not expired."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] <= self.clock():
                del self._data[key]
                return None
            return item[1]

    def set(self, key: str, value: str) -> None:
        """Store a value that expires after the TTL."""
        with self._lock:
            self._data[key] = (self.clock() + self.ttl_s, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)


class RedisTTLStore:
    """TTL store in Redis under a key prefix (prod profile)."""

    def __init__(self, client, prefix: str, ttl_s: int) -> None:
        self.client, self.prefix, self.ttl_s = client, prefix, ttl_s

    @classmethod
    def from_url(cls, url: str, prefix: str, ttl_s: int) -> RedisTTLStore:
        """Connect lazily to a Redis URL."""
        import redis

        return cls(redis.Redis.from_url(url, decode_responses=True), prefix, ttl_s)

    def get(self, key: str) -> str | None:
        """The value if present (Redis expires it)."""
        return self.client.get(self.prefix + key)

    def set(self, key: str, value: str) -> None:
        """SETEX with the store's TTL."""
        self.client.setex(self.prefix + key, self.ttl_s, value)
