"""Bearer-JWT auth, scopes, merchant identity and per-client rate limiting.

HS256 with the local secret by default; RS256 with keys from a JWKS URL (e.g. Cognito)
when `SMARTPAY_SERVING_JWKS_URL` is set. Claims: `sub` (client), `merchant_id`, `scope`
(space-separated, OAuth style).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import warnings

import jwt
from cachetools import TTLCache
from jwt.warnings import InsecureKeyLengthWarning

# The local profile's default secret is short on purpose (it is not a secret); prod uses
# RS256 via JWKS or a long SMARTPAY_JWT_SECRET. Keep the CLI and logs free of the notice.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)

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
                 issuer: str = "smartpay-local", audience: str = "smartpay-api") -> None:
        self.secret, self.algorithm, self.issuer, self.audience = (
            secret, algorithm, issuer, audience)
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._seen: TTLCache = TTLCache(50_000, 300)

    def verify(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <JWT>'; "
                           "get a local one with `smartpay token`",
                           headers={"WWW-Authenticate": "Bearer"})
        token = authorization[7:].strip()
        hit = self._seen.get(token)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        claims = self._decode(token)
        principal = Principal(str(claims.get("sub", "")), str(claims["merchant_id"]),
                              frozenset(str(claims.get("scope", "")).split()))
        self._seen[token] = (principal, float(claims["exp"]))
        return principal

    def _decode(self, token: str) -> dict:
        key = self.secret
        if self._jwks is not None:
            key = self._jwks.get_signing_key_from_jwt(token).key
        try:
            return jwt.decode(token, key, algorithms=[self.algorithm],
                              audience=self.audience, issuer=self.issuer,
                              options={"require": ["exp", "merchant_id"]})
        except jwt.PyJWTError as exc:
            raise ApiError(401, "invalid_token", f"the bearer token was refused: {exc}",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
                           ) from None


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
