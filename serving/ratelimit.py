"""Rate limits that keep one small box answering: a token bucket per merchant (after
the token is verified) and one per client address (before anything else, so floods
without a token, with a bad one or with a huge body are refused for the price of a
dictionary lookup).

Locally the buckets live in the process (the API runs one worker); in prod they live
in Redis, one atomic script per check, so every worker and host shares them. Buckets
idle long enough to be full again are forgotten, so memory is bounded whatever the
number of addresses.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass

from cachetools import TTLCache

from serving.security import ApiError

log = logging.getLogger("smartpay.ratelimit")


@dataclass(frozen=True)
class Rate:
    """`per_s` requests a second on average, bursts of up to `burst`."""

    per_s: float
    burst: int

    @property
    def refill_s(self) -> float:
        """How long an empty bucket takes to be full (after that it can be dropped)."""
        return self.burst / self.per_s


def _refused(kind: str, who: str, rate: Rate, wait_s: float) -> ApiError:
    retry = max(1, math.ceil(wait_s))
    return ApiError(429, "rate_limited", f"{kind} {who} is over {rate.per_s:g} "
                    f"requests/s (bursts of {rate.burst}); retry in {retry} s",
                    headers={"Retry-After": str(retry)})


class _Buckets:
    """In-process token buckets, at most `max_keys` of them (least recently used go
    first; a bucket is also dropped once it would have refilled anyway)."""

    def __init__(self, rate: Rate, max_keys: int) -> None:
        self.rate = rate
        self._b: TTLCache = TTLCache(max_keys, ttl=rate.refill_s, timer=time.monotonic)

    def take(self, key: str) -> float:
        """0 when a token was taken; else the seconds until one is available."""
        now, r = time.monotonic(), self.rate
        tokens, last = self._b.get(key, (float(r.burst), now))
        tokens = min(float(r.burst), tokens + (now - last) * r.per_s)
        if tokens < 1:
            self._b[key] = (tokens, now)
            return (1 - tokens) / r.per_s
        self._b[key] = (tokens - 1, now)
        return 0.0

    def __len__(self) -> int:
        return len(self._b)


class RateLimiter:
    """Per-merchant and per-address buckets of one API process."""

    def __init__(self, merchant: Rate, address: Rate, max_keys: int = 100_000) -> None:
        self.merchant_rate, self.address_rate = merchant, address
        self._merchants = _Buckets(merchant, max_keys)
        self._addresses = _Buckets(address, max_keys)

    async def check_merchant(self, merchant_id: str) -> None:
        """Raise a 429 when this merchant is over its rate."""
        self._raise_if_waiting("merchant", merchant_id, self.merchant_rate,
                               self._merchants.take(merchant_id))

    async def check_address(self, host: str) -> None:
        """Raise a 429 when this client address is over its rate."""
        self._raise_if_waiting("client address", host, self.address_rate,
                               self._addresses.take(host))

    @staticmethod
    def _raise_if_waiting(kind: str, who: str, rate: Rate, wait_s: float) -> None:
        if wait_s > 0:
            raise _refused(kind, who, rate, wait_s)

    @property
    def size(self) -> int:
        """Buckets held (bounded by max_keys per kind)."""
        return len(self._merchants) + len(self._addresses)

    async def aclose(self) -> None:
        return None


# KEYS[1] bucket; ARGV rate/s, burst, ttl ms. Redis's own clock, so workers on hosts
# with skewed clocks share one bucket correctly. Returns seconds to wait ("0" = ok).
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1]) or burst
local ts = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return tostring(wait)
"""


class RedisRateLimiter(RateLimiter):
    """The same buckets in Redis, shared by every worker; each check is one script
    call. When Redis cannot be reached the process's own buckets decide (a limiter
    outage must not become an API outage)."""

    def __init__(self, url: str, prefix: str, merchant: Rate, address: Rate,
                 max_keys: int = 100_000) -> None:
        import redis.asyncio as aioredis

        super().__init__(merchant, address, max_keys)
        self._r = aioredis.from_url(url, decode_responses=True)
        self._take = self._r.register_script(_TAKE)
        self._prefix = prefix
        self._warned_at = float("-inf")

    async def check_merchant(self, merchant_id: str) -> None:
        wait = await self._shared("m", merchant_id, self.merchant_rate)
        if wait is None:
            return await super().check_merchant(merchant_id)
        self._raise_if_waiting("merchant", merchant_id, self.merchant_rate, wait)

    async def check_address(self, host: str) -> None:
        wait = await self._shared("ip", host, self.address_rate)
        if wait is None:
            return await super().check_address(host)
        self._raise_if_waiting("client address", host, self.address_rate, wait)

    async def _shared(self, kind: str, who: str, rate: Rate) -> float | None:
        key = f"{self._prefix}:rl:{kind}:{json.dumps(who)[1:-1]}"
        ttl_ms = int(rate.refill_s * 1000) + 1000
        try:
            args = [rate.per_s, rate.burst, ttl_ms]
            return float(await self._take(keys=[key], args=args))
        except Exception as exc:  # redis down or slow: fall back to local buckets
            if time.monotonic() - self._warned_at > 60:  # a line a minute, not a flood
                self._warned_at = time.monotonic()
                log.warning("shared rate limit unavailable (%s); using local buckets",
                            type(exc).__name__)
            return None

    async def aclose(self) -> None:
        await self._r.aclose()


class AddressLimit:
    """ASGI middleware: every HTTP request and WebSocket handshake spends a token of
    its client address before routing, authentication or reading the body. The
    limiter is the runtime's (`app.state.rt.limiter`), so it lives and dies with it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        rt = _runtime(scope)
        if rt is not None and scope["type"] in ("http", "websocket"):
            host = (scope.get("client") or ("unknown",))[0]
            try:
                await rt.limiter.check_address(host)
            except ApiError as exc:
                return await _refuse(scope, send, exc)
        await self.app(scope, receive, send)


def _runtime(scope):
    app = scope.get("app")
    return getattr(getattr(app, "state", None), "rt", None) if app is not None else None


async def _refuse(scope, send, exc: ApiError) -> None:
    if scope["type"] == "websocket":  # a close before accept: the handshake gets 403
        return await send({"type": "websocket.close", "code": 1008,
                           "reason": exc.message[:120]})
    body = json.dumps({"error": exc.code, "message": exc.message,
                       "fields": []}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()),
               *[(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]]
    await send({"type": "http.response.start", "status": exc.status,
                "headers": headers})
    await send({"type": "http.response.body", "body": body})
