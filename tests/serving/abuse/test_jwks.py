"""Finding 8: in RS256/JWKS mode every bad token is a 401 with a JSON body that says
why, and an unreachable or broken key server is a 503 with Retry-After; never a 500.
The key set is served by a real HTTP server on 127.0.0.1 that the tests stop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from contextlib import ExitStack, contextmanager

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from harness.server import serve_asgi
from tests.serving.conftest import app_client

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key, kid: str) -> dict:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return jwk | {"kid": kid, "alg": "RS256", "use": "sig"}


@contextmanager
def jwks_server(body=None, status: int = 200):
    """A key server answering GET /jwks with `body` (default: KEY as kid k1)."""
    doc = body if body is not None else {"keys": [_jwk(KEY, "k1")]}

    async def keys(_):
        if isinstance(doc, str):
            return PlainTextResponse(doc, status)
        return JSONResponse(doc, status)

    with serve_asgi(Starlette(routes=[Route("/jwks", keys)]), name="jwks") as url:
        yield f"{url}/jwks"


def _claims(merchant: str = "m1", **over) -> dict:
    now = int(time.time())
    return {"sub": "c", "merchant_id": merchant, "scope": "payments:read",
            "iat": now, "exp": now + 600, "iss": "smartpay-local",
            "aud": "smartpay-api"} | over


def _rs256(kid: str | None = "k1", key=KEY, **claims) -> str:
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(_claims(**claims), key, algorithm="RS256", headers=headers)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hand_made(header: dict, claims: dict, sign=lambda _: b"") -> str:
    """A token built by hand, as an attacker would (libraries refuse to make these)."""
    head = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{head}.{_b64(sign(head.encode()))}"


def _public_pem() -> bytes:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return KEY.public_key().public_bytes(serialization.Encoding.PEM, spki)


def _get(c, token: str):
    return c.get("/payments/none", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def jwks_client(serving_env):
    with jwks_server() as url:
        serving_env.setenv("SMARTPAY_SERVING__JWKS_URL", url)
        with app_client() as c:
            yield c


def test_a_token_signed_by_a_key_in_the_set_is_accepted(jwks_client):
    r = _get(jwks_client, _rs256())
    assert r.status_code == 404 and r.json()["error"] == "not_found", r.text


CONFUSED = {
    "garbage": lambda: "not-a-jwt",
    "three garbage parts": lambda: "a.b.c",
    "unknown kid": lambda: _rs256(kid="k-unknown"),
    "missing kid": lambda: _rs256(kid=None),
    "kid that is a number": lambda: _hand_made({"alg": "RS256", "kid": 7}, _claims()),
    "kid that is an object": lambda: _hand_made({"alg": "RS256", "kid": {"a": 1}},
                                                _claims()),
    "alg none": lambda: _hand_made({"alg": "none", "kid": "k1"}, _claims()),
    "HS256 keyed with the public key": lambda: _hand_made(
        {"alg": "HS256", "kid": "k1"}, _claims(),
        lambda m: hmac.new(_public_pem(), m, hashlib.sha256).digest()),
    "signed by another key under a known kid": lambda: _rs256(key=OTHER),
    "merchant_id that is not a string": lambda: _rs256(merchant={"id": 1}),
    "expired": lambda: _rs256(exp=int(time.time()) - 5),
}


@pytest.mark.parametrize("name", list(CONFUSED))
def test_a_bad_token_in_jwks_mode_gets_401_saying_why(jwks_client, name):
    r = _get(jwks_client, CONFUSED[name]())
    assert r.status_code == 401, (name, r.status_code, r.text)
    body = r.json()
    assert body["error"] == "invalid_token" and body["message"].startswith(
        "the bearer token was refused")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_key_server_down_at_start_gives_503_with_retry_after(serving_env):
    with jwks_server() as url:
        pass  # served once, now stopped: the address refuses connections
    serving_env.setenv("SMARTPAY_SERVING__JWKS_URL", url)
    with app_client() as c:
        answers = [_get(c, _rs256()) for _ in range(3)]
    for r in answers:
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "auth_unavailable"
        assert "signing keys could not be fetched" in r.json()["message"]
        assert int(r.headers["retry-after"]) >= 1


def test_an_outage_after_start_refuses_new_kids_with_503_and_keeps_known_keys(
        serving_env):
    server = ExitStack()
    url = server.enter_context(jwks_server())
    serving_env.setenv("SMARTPAY_SERVING__JWKS_URL", url)
    with server, app_client() as c:
        assert _get(c, _rs256()).status_code == 404
        server.close()  # the key server goes down while the API runs
        c.app.state.rt.verifier.jwks_refresh_s = 0.0  # a new kid refetches at once
        rotated = _get(c, _rs256(kid="k2-rotated"))
        known = _get(c, _rs256(merchant="m2"))  # a new token under the cached kid
    assert rotated.status_code == 503 and rotated.json()["error"] == "auth_unavailable"
    assert "retry-after" in rotated.headers
    assert known.status_code == 404, known.text


@pytest.mark.parametrize("body,status", [("<html>oops</html>", 200),
                                         ({"keys": []}, 200),
                                         ({"error": "boom"}, 500),
                                         ({"keys": [{"kty": "RSA"}]}, 200)])
def test_a_broken_key_server_answer_gives_503_not_500(serving_env, body, status):
    with jwks_server(body, status) as url:
        serving_env.setenv("SMARTPAY_SERVING__JWKS_URL", url)
        with app_client() as c:
            r = _get(c, _rs256())
    assert r.status_code == 503 and r.json()["error"] == "auth_unavailable", r.text


def test_a_hanging_key_server_costs_one_timeout_not_one_per_request(serving_env):
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        serving_env.setenv("SMARTPAY_SERVING__JWKS_URL",
                           f"http://127.0.0.1:{silent.getsockname()[1]}/jwks")
        with app_client() as c:
            first = _get(c, _rs256())
            t0 = time.monotonic()
            rest = [_get(c, _rs256(kid=f"k{i}")) for i in range(4)]
            rest_s = time.monotonic() - t0
    assert first.status_code == 503 and "Timeout" in first.json()["message"]
    assert [r.status_code for r in rest] == [503] * 4
    assert rest_s < 2.0  # the failed fetch is remembered for jwks_refresh_s
