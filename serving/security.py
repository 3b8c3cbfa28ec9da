"""Bearer-JWT auth, scopes, merchant identity and per-client rate limiting.

HS256 with the local secret by default; RS256 with keys from a JWKS URL (e.g. Cognito)
when `SMARTPAY_SERVING__JWKS_URL` is set. The key set is fetched with an async client
and kept; an unknown `kid` refreshes it (at most every few seconds), so verifying a
token never blocks the event loop. Claims: `sub` (client), `merchant_id`, `scope`
(space-separated, OAuth style).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import jwt
from cachetools import TTLCache

SCOPES = ("payments:write", "payments:read", "admin")


class ApiError(Exception):
    """An HTTP error with a machine code and a sentence a person can act on."""

    def __init__(self, status: int, code: str, message: str, fields: list | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields or [], headers or {}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the client, the merchant it acts for and its scopes."""

    subject: str
    merchant_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise ApiError(403, "forbidden", f"this token lacks the scope {scope!r}; "
                           f"it has: {' '.join(sorted(self.scopes)) or 'none'}")

    def may_see(self, merchant_id: str) -> bool:
        return merchant_id == self.merchant_id or "admin" in self.scopes


def issue_token(secret: str, merchant_id: str, scopes: list[str], ttl_s: int = 3600,
                issuer: str = "smartpay-local", audience: str = "smartpay-api",
                subject: str | None = None) -> str:
    """A local HS256 token (for `smartpay token`, tests and load tests)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        from smartpay.errors import InputError

        raise InputError("scope", unknown[0], "one of " + ", ".join(SCOPES))
    now = int(time.time())
    claims = {"sub": subject or f"client-{merchant_id}", "merchant_id": merchant_id,
              "scope": " ".join(scopes), "iat": now, "exp": now + ttl_s,
              "iss": issuer, "aud": audience}
    return jwt.encode(claims, secret, algorithm="HS256")


class Verifier:
    """Checks bearer tokens; remembers good ones until they expire (cheap under load)."""

    def __init__(self, secret: str, algorithm: str = "HS256", jwks_url: str = "",
                 issuer: str = "smartpay-local", audience: str = "smartpay-api",
                 jwks_refresh_s: float = 5.0) -> None:
        self.secret, self.algorithm, self.issuer, self.audience = (
            secret, algorithm, issuer, audience)
        self.jwks_url, self.jwks_refresh_s = jwks_url, jwks_refresh_s
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._seen: TTLCache = TTLCache(50_000, 300)

    async def verify(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        hit = self._seen.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        key = await self._jwks_key(token) if self.jwks_url else self.secret
        claims = self._decode(token, key)
        principal = Principal(str(claims.get("sub", "")), str(claims["merchant_id"]),
                              frozenset(str(claims.get("scope", "")).split()))
        self._seen[token] = (principal, float(claims["exp"]))
        return principal

    async def _jwks_key(self, token: str):
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise _refused(f"malformed token ({exc})") from None
        if not kid:
            raise _refused("the token has no 'kid' header")
        if kid not in self._keys:
            await self._refresh()
        if kid not in self._keys:
            raise _refused(f"no signing key with kid {kid[:40]!r} in the key set")
        return self._keys[kid]

    async def _refresh(self) -> None:
        """Fetch the key set (one fetch at a time, at most every jwks_refresh_s)."""
        import httpx

        async with self._lock:
            if time.monotonic() - self._fetched_at < self.jwks_refresh_s:
                return
            try:
                async with httpx.AsyncClient(timeout=3.0) as client:
                    resp = await client.get(self.jwks_url)
                    resp.raise_for_status()
                    keys = jwt.PyJWKSet.from_dict(resp.json()).keys
            except Exception as exc:
                raise ApiError(503, "auth_unavailable", "the signing keys could not be "
                               f"fetched ({type(exc).__name__}); retry shortly",
                               headers={"Retry-After": "1"}) from None
            self._keys = {k.key_id: k.key for k in keys if k.key_id}
            self._fetched_at = time.monotonic()

    def _decode(self, token: str, key) -> dict:
        try:
            return jwt.decode(token, key, algorithms=[self.algorithm],
                              audience=self.audience, issuer=self.issuer,
                              options={"require": ["exp", "merchant_id"]})
        except jwt.PyJWTError as exc:
            raise _refused(str(exc)) from None


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <JWT>'; "
                       "get a local one with `smartpay token`",
                       headers={"WWW-Authenticate": "Bearer"})
    return authorization[7:].strip()


def _refused(why: str) -> ApiError:
    return ApiError(401, "invalid_token", f"the bearer token was refused: {why}",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class RateLimiter:
    """A token bucket per client: `rate` requests a second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, client: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            retry = max(1, int((1 - tokens) / self.rate + 0.999))
            raise ApiError(429, "rate_limited", f"client {client} is over "
                           f"{self.rate:g} requests/s; retry in {retry} s",
                           headers={"Retry-After": str(retry)})
        self._buckets[client] = (tokens - 1, now)
