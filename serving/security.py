"""Bearer-JWT auth, scopes and merchant identity (rate limits: `serving.ratelimit`).

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
    expires_at: float = float("inf")  # the token's `exp` (Unix seconds)

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
        self._fetched_at, self._failure = 0.0, ""
        self._lock = asyncio.Lock()
        self._seen: TTLCache = TTLCache(50_000, 300)

    async def verify(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        hit = self._seen.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        key = await self._jwks_key(token) if self.jwks_url else self.secret
        claims = self._decode(token, key)
        principal = Principal(str(claims.get("sub", "")), claims["merchant_id"],
                              frozenset(str(claims.get("scope", "")).split()),
                              float(claims["exp"]))
        self._seen[token] = (principal, principal.expires_at)
        return principal

    async def _jwks_key(self, token: str):
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise _refused(f"malformed token ({exc})") from None
        if not isinstance(kid, str) or not kid:
            raise _refused("the token has no 'kid' header naming its signing key")
        if kid not in self._keys:
            await self._refresh()
        if kid not in self._keys:
            raise _refused(f"no signing key with kid {kid[:40]!r} in the key set")
        return self._keys[kid]

    async def _refresh(self) -> None:
        """Fetch the key set (one fetch at a time, at most every jwks_refresh_s). A
        failed fetch is remembered for as long: while the key server is down, callers
        get a 503 at once instead of queueing behind one timed-out fetch after
        another."""
        import httpx

        async with self._lock:
            if time.monotonic() - self._fetched_at < self.jwks_refresh_s:
                if self._failure:
                    raise _unavailable(self._failure, self.jwks_refresh_s)
                return
            try:
                async with httpx.AsyncClient(timeout=3.0) as client:
                    resp = await client.get(self.jwks_url)
                    resp.raise_for_status()
                    keys = jwt.PyJWKSet.from_dict(resp.json()).keys
            except Exception as exc:  # any failure of the key server is a 503
                self._fetched_at, self._failure = time.monotonic(), type(exc).__name__
                raise _unavailable(self._failure, self.jwks_refresh_s) from None
            self._keys = {k.key_id: k.key for k in keys if k.key_id}
            self._fetched_at, self._failure = time.monotonic(), ""

    def _decode(self, token: str, key) -> dict:
        try:
            claims = jwt.decode(token, key, algorithms=[self.algorithm],
                                audience=self.audience, issuer=self.issuer,
                                options={"require": ["exp", "merchant_id"]})
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            # TypeError/ValueError: a key of the wrong kind for the algorithm
            # (e.g. an `oct` or EC key in the set under an RS256 token's kid)
            raise _refused(str(exc) or type(exc).__name__) from None
        if not isinstance(claims.get("merchant_id"), str) or not claims["merchant_id"]:
            raise _refused("the 'merchant_id' claim must be a non-empty string")
        return claims


def _unavailable(failure: str, retry_s: float) -> ApiError:
    return ApiError(503, "auth_unavailable", "the signing keys could not be fetched "
                    f"({failure}); retry shortly",
                    headers={"Retry-After": str(max(1, int(retry_s + 0.999)))})


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <JWT>'; "
                       "get a local one with `smartpay token`",
                       headers={"WWW-Authenticate": "Bearer"})
    return authorization[7:].strip()


def _refused(why: str) -> ApiError:
    return ApiError(401, "invalid_token", f"the bearer token was refused: {why}",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
