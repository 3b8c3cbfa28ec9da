"""Idempotency-Key handling: replays, conflicts, concurrent duplicates in one or two
processes, and leases (a dead holder's key is taken over, a live one's never is)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from serving.idempotency import Idempotency
from serving.ledger import Ledger
from serving.security import ApiError
from tests.serving.conftest import auth, pay_body
from tests.serving.ledger.conftest import run_ledger


def _counting_work(calls: list, delay_s: float = 0.0, answer: dict | None = None):
    async def work() -> tuple[int, dict]:
        calls.append(1)
        await asyncio.sleep(delay_s)
        return 200, answer or {"run": len(calls)}

    return work


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_concurrent_duplicates_in_one_process_run_the_work_once(url):
    async def body(ledger: Ledger):
        idem, calls = Idempotency(ledger), []
        work = _counting_work(calls, 0.05)
        answers = await asyncio.gather(*[idem.run("m", "k", "h", work)
                                         for _ in range(20)])
        return calls, answers

    calls, answers = run_ledger(url, body)
    assert calls == [1] and answers == [(200, {"run": 1})] * 20


def test_a_duplicate_in_another_process_waits_for_the_first_answer(url):
    async def body(ledger: Ledger):
        first, second, calls = Idempotency(ledger), Idempotency(ledger), []
        work = _counting_work(calls, 0.2)
        return calls, await asyncio.gather(first.run("m", "k", "h", work),
                                           second.run("m", "k", "h", work))

    calls, (a, b) = run_ledger(url, body)
    assert calls == [1] and a == b


def test_the_same_key_with_another_body_is_a_409(url):
    async def body(ledger: Ledger):
        idem = Idempotency(ledger)
        await idem.run("m", "k", "h1", _counting_work([]))
        with pytest.raises(ApiError) as exc:
            await idem.run("m", "k", "h2", _counting_work([]))
        return exc.value

    err = run_ledger(url, body)
    assert (err.status, err.code) == (409, "idempotency_conflict")


def test_a_refused_request_releases_its_key_for_a_retry(url):
    async def body(ledger: Ledger):
        idem = Idempotency(ledger)

        async def refused() -> tuple[int, dict]:
            raise ApiError(422, "validation_error", "amount_minor: too large")

        with pytest.raises(ApiError):
            await idem.run("m", "k", "h", refused)
        return await idem.run("m", "k", "h", _counting_work([]))

    assert run_ledger(url, body) == (200, {"run": 1})


def test_a_key_whose_holder_died_is_taken_over_once_its_lease_runs_out(url):
    async def body(ledger: Ledger):
        await ledger.claim("m", "k", "h", lease_s=0.2)  # then the process dies
        calls = []
        answer = await Idempotency(ledger, wait_s=2).run("m", "k", "h",
                                                         _counting_work(calls))
        return calls, answer

    calls, answer = run_ledger(url, body)
    assert calls == [1] and answer == (200, {"run": 1})


def test_a_request_running_longer_than_its_lease_keeps_its_key(url):
    async def body(ledger: Ledger):
        holder = Idempotency(ledger, lease_s=0.15)
        other = Idempotency(ledger, wait_s=3, lease_s=0.15)
        calls = []
        slow = holder.run("m", "k", "h", _counting_work(calls, 0.6, {"who": "first"}))
        task = asyncio.create_task(slow)
        await asyncio.sleep(0.05)
        duplicate = await other.run("m", "k", "h", _counting_work(calls))
        return calls, await task, duplicate

    calls, first, duplicate = run_ledger(url, body)
    assert calls == [1] and first == duplicate == (200, {"who": "first"})


# -- over HTTP -------------------------------------------------------------------------

def _store(client):
    return client.app.state.rt.store


def _count_by_status(client) -> dict[str, int]:
    return client.portal.call(_store(client).count_by_status)


def test_the_same_key_and_body_returns_the_original_payment_without_a_second_charge(
        client):
    first = client.post("/pay", json=pay_body(), headers=auth(key="same"))
    second = client.post("/pay", json=pay_body(), headers=auth(key="same"))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert _count_by_status(client) == {"captured": 1}
    payment = client.portal.call(_store(client).get, first.json()["payment_id"])
    assert len(payment["attempts"]) == 1


def test_the_same_key_with_a_different_body_is_a_409_and_writes_nothing(client):
    client.post("/pay", json=pay_body(), headers=auth(key="k"))
    r = client.post("/pay", json=pay_body(amount_minor=9_999), headers=auth(key="k"))
    assert r.status_code == 409 and r.json()["error"] == "idempotency_conflict"
    assert _count_by_status(client) == {"captured": 1}


def test_a_key_is_per_merchant_so_two_merchants_may_use_the_same_one(client):
    a = client.post("/pay", json=pay_body(), headers=auth("m1", key="shared")).json()
    b = client.post("/pay", json=pay_body(), headers=auth("m2", key="shared")).json()
    assert a["payment_id"] != b["payment_id"]


def test_pay_without_an_idempotency_key_is_refused_and_writes_nothing(client):
    r = client.post("/pay", json=pay_body(), headers=auth())
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["message"]
    assert _count_by_status(client) == {}


def test_fifty_concurrent_duplicates_make_exactly_one_charge(client):
    def send(_):
        return client.post("/pay", json=pay_body(), headers=auth(key="burst"))

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(send, range(50)))
    assert {r.status_code for r in answers} == {200}
    ids = {r.json()["payment_id"] for r in answers}
    assert len(ids) == 1
    p = client.portal.call(_store(client).get, ids.pop())
    assert p["status"] == "captured" and len(p["attempts"]) == 1
    assert _count_by_status(client) == {"captured": 1}


def test_a_refund_replayed_with_its_key_refunds_only_once(client):
    paid = client.post("/pay", json=pay_body(), headers=auth(key="p")).json()
    pid = paid["payment_id"]
    one = client.post(f"/payments/{pid}/refund", json={"amount_minor": 700},
                      headers=auth(key="ref"))
    two = client.post(f"/payments/{pid}/refund", json={"amount_minor": 700},
                      headers=auth(key="ref"))
    assert one.json() == two.json() and two.json()["refunded_minor"] == 700
    other = client.post(f"/payments/{pid}/refund", json={"amount_minor": 5},
                        headers=auth(key="ref"))
    assert other.status_code == 409
