"""The prod profile against the machine's PostgreSQL (ledger) and Redis (cache, events)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from sqlalchemy import create_engine, text

from smartpay.settings import reset_settings
from tests.serving.conftest import app_client, auth, pay_body, token

pytestmark = pytest.mark.prod
DB = "smartpay_serving_test"


@pytest.fixture
def prod_env(serving_env, prod_server):
    rhost, rport = prod_server("redis")
    phost, pport = prod_server("postgres")
    admin = create_engine(f"postgresql+psycopg://postgres@{phost}:{pport}/postgres",
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {DB}"))
    admin.dispose()
    prefix = f"smartpay-test-{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://postgres@{phost}:{pport}/{DB}"
    for k, v in {"SMARTPAY_PROFILE": "prod", "SMARTPAY_POSTGRES_URL": url,
                 "SMARTPAY_REDIS_URL": f"redis://{rhost}:{rport}/0",
                 "SMARTPAY_SERVING__REDIS_PREFIX": prefix}.items():
        serving_env.setenv(k, v)
    reset_settings()
    r = redis.Redis(rhost, rport)
    yield url, r, prefix
    for key in r.scan_iter(f"{prefix}:*"):
        r.delete(key)
    reset_settings()


def test_the_prod_profile_keeps_the_ledger_in_postgres_and_uses_redis(prod_env):
    url, r, prefix = prod_env
    with app_client() as c:
        with c.websocket_connect(f"/ws?token={token('m1')}") as ws:
            ws.receive_json()
            p = c.post("/pay", json=pay_body(), headers=auth(key="prod-1")).json()
            kinds = {ws.receive_json()["type"] for _ in range(2)}
        assert p["status"] == "captured" and kinds == {"reward_minted", "payment_processed"}
        assert r.xlen(f"{prefix}:events") >= 2  # went through Redis Streams
        assert any(True for _ in r.scan_iter(f"{prefix}:risk:*"))  # cached risk
        assert c.post("/pay", json=pay_body(), headers=auth(key="prod-1")).json() == p
    with create_engine(url).connect() as db:
        rows = db.execute(text("SELECT status FROM payments")).scalars().all()
        steps = db.execute(text("SELECT to_status FROM transitions ORDER BY id")).scalars()
        assert rows == ["captured"] and list(steps) == ["created", "authorized", "captured"]


def test_concurrent_duplicates_on_postgres_make_one_charge(prod_env):
    url, _, _ = prod_env
    with app_client() as c:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda _: c.post(
                "/pay", json=pay_body(), headers=auth(key="dup")), range(20)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["payment_id"] for a in answers}) == 1
    with create_engine(url).connect() as db:
        assert db.execute(text("SELECT count(*) FROM gateway_attempts")).scalar() == 1
