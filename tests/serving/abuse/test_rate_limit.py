"""Finding 11: the default limits protect a small box. Every request spends a token of
its client address before anything else (so floods without a valid token are refused
too), and authenticated requests a token of their merchant, so one merchant's flood
leaves others served. Buckets are bounded in memory and, in prod, shared in Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from serving.ratelimit import Rate, RateLimiter, RedisRateLimiter
from serving.security import ApiError
from smartpay.settings import ServingSettings
from tests.serving.conftest import app_client, auth


def _codes(c, n: int, **kw) -> list[int]:
    return [c.get("/payments/none", **kw).status_code for _ in range(n)]


def test_the_default_limits_are_below_what_this_box_can_serve():
    s = ServingSettings()
    assert s.rate_limit_per_s <= 50 and s.ip_rate_limit_per_s <= 100  # ~40 payments/s
    assert s.rate_limit_burst <= 2 * s.rate_limit_per_s
    assert s.ip_rate_limit_burst <= 2 * s.ip_rate_limit_per_s


def _flood(c, n: int, headers: dict | None = None, host: str = "testclient"
           ) -> tuple[list, float]:
    """`n` requests at once from one address (an in-process client is slower than a
    real attacker sending one after another, so they are sent concurrently); the
    responses and the seconds the flood took."""
    import time

    import httpx

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=c.app, client=(host, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            rs = await asyncio.gather(*[ac.get("/payments/none", headers=headers)
                                        for _ in range(n)])
        return list(rs)

    t0 = time.monotonic()
    answers = c.portal.call(go)
    return answers, time.monotonic() - t0


def _at_most_the_bucket(passed: int, rate: float, burst: int, elapsed_s: float) -> bool:
    return passed <= burst + rate * elapsed_s + 1


def test_an_unauthenticated_flood_from_one_address_gets_429_with_retry_after(
        serving_env):
    serving_env.delenv("SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S")  # the defaults
    s = ServingSettings()
    rate, burst = s.ip_rate_limit_per_s, s.ip_rate_limit_burst
    with app_client() as c:
        answers, took = _flood(c, 800)
        elsewhere, _ = _flood(c, 1, host="198.51.100.1")
    codes = [r.status_code for r in answers]
    assert set(codes) == {401, 429} and codes.count(401) >= burst
    passed = codes.count(401)
    assert _at_most_the_bucket(passed, rate, burst, took), (passed, took)
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "rate_limited"
    assert "client address testclient" in refused.json()["message"]
    assert elsewhere[0].status_code == 401  # another address is not limited by it


def test_requests_over_the_address_limit_are_refused_whatever_their_body(serving_env):
    serving_env.setenv("SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S", "1")
    serving_env.setenv("SMARTPAY_SERVING__IP_RATE_LIMIT_BURST", "2")
    with app_client() as c:
        codes = [c.post("/pay", content=b"{" + b" " * 2_000_000).status_code
                 for _ in range(4)]
    assert set(codes[:2]) <= {401, 413, 422} and codes[2:] == [429, 429]


def test_one_merchants_flood_gets_429_while_another_merchant_is_served(serving_env):
    serving_env.delenv("SMARTPAY_SERVING__RATE_LIMIT_PER_S")  # the defaults
    serving_env.setenv("SMARTPAY_SERVING__IP_RATE_LIMIT_BURST", "100000")  # not tested
    rate, burst = ServingSettings().rate_limit_per_s, ServingSettings().rate_limit_burst
    with app_client() as c:
        flood, took = _flood(c, 500, headers=auth("m1"))
        other, _ = _flood(c, 3, headers=auth("m2"))
    codes = [r.status_code for r in flood]
    assert set(codes) == {404, 429} and codes.count(404) >= burst
    passed = codes.count(404)
    assert _at_most_the_bucket(passed, rate, burst, took), (passed, took)
    for refused in (r for r in flood if r.status_code == 429):
        assert "merchant m1" in refused.json()["message"]
        assert int(refused.headers["retry-after"]) >= 1
    assert [r.status_code for r in other] == [404, 404, 404]


def test_a_websocket_handshake_over_the_address_limit_is_refused(serving_env):
    from starlette.websockets import WebSocketDisconnect

    from tests.serving.conftest import token

    serving_env.setenv("SMARTPAY_SERVING__IP_RATE_LIMIT_PER_S", "0.5")
    serving_env.setenv("SMARTPAY_SERVING__IP_RATE_LIMIT_BURST", "1")
    with app_client() as c:
        c.get("/health")
        with pytest.raises(WebSocketDisconnect) as closed:
            with c.websocket_connect(f"/ws?token={token('m1')}") as ws:
                ws.receive_json()
    assert closed.value.code == 1008


def test_buckets_are_bounded_in_memory_whatever_the_number_of_addresses():
    limiter = RateLimiter(Rate(10, 20), Rate(10, 20), max_keys=500)

    async def flood() -> None:
        for i in range(20_000):
            await limiter.check_address(f"10.0.{i // 256}.{i % 256}")

    asyncio.run(flood())
    assert limiter.size <= 1_000


def test_a_bucket_refills_at_its_rate():
    limiter = RateLimiter(Rate(50, 2), Rate(1000, 1000))

    async def run() -> list[bool]:
        out = []
        for pause in (0, 0, 0, 0.05):
            await asyncio.sleep(pause)
            try:
                await limiter.check_merchant("m1")
                out.append(True)
            except ApiError:
                out.append(False)
        return out

    assert asyncio.run(run()) == [True, True, False, True]


@pytest.mark.prod
def test_prod_workers_share_one_bucket_in_redis(prod_server):
    prod_server("redis")
    prefix = f"rl-test-{uuid.uuid4().hex[:8]}"

    async def run() -> list[bool]:
        workers = [RedisRateLimiter("redis://127.0.0.1:6379/0", prefix, Rate(0.1, 3),
                                    Rate(1000, 1000)) for _ in range(2)]
        out = []
        try:
            for i in range(6):
                try:
                    await workers[i % 2].check_merchant("m1")
                    out.append(True)
                except ApiError as exc:
                    assert exc.status == 429 and int(exc.headers["Retry-After"]) >= 1
                    out.append(False)
        finally:
            for w in workers:
                await w.aclose()
        return out

    assert asyncio.run(run()) == [True, True, True, False, False, False]


def test_a_redis_outage_falls_back_to_the_processes_own_buckets():
    async def run() -> list[bool]:
        limiter = RedisRateLimiter("redis://127.0.0.1:1/0", "x", Rate(0.1, 2),
                                   Rate(1000, 1000))
        out = []
        try:
            for _ in range(3):
                try:
                    await limiter.check_merchant("m1")
                    out.append(True)
                except ApiError:
                    out.append(False)
        finally:
            await limiter.aclose()
        return out

    assert asyncio.run(run()) == [True, True, False]
