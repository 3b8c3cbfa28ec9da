"""The ledger's state machine, transitions and migrations, on its thread runner."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from serving.ledger import IllegalTransition, Ledger
from serving.ledger.engine import sync_url
from smartpay.errors import InputError
from tests.serving.ledger.conftest import new_payment, run_ledger


def test_migrations_create_the_tables_and_can_run_twice(ledger_url):
    async def body(ledger: Ledger):
        await ledger.migrate()
        return set(await ledger.runner.run(lambda c: inspect(c).get_table_names()))

    names = run_ledger(ledger_url, body)
    assert {"payments", "transitions", "gateway_attempts", "idempotency_keys",
            "refunds", "outbox", "dead_letters", "alembic_version"} <= names


def test_a_payment_is_created_read_updated_and_counted(ledger_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger, 2_500, first_gateway="stripe", user_id="u1")
        await ledger.update_fields(pid, risk_score=0.25, reward={"amount": 3})
        await ledger.finish_attempt(f"{pid}-1", "approved", "ch_9")
        return (await ledger.get(pid), await ledger.recent("m", "u1"),
                await ledger.count_by_status(), await ledger.get("pay_missing"))

    p, recent, counts, missing = run_ledger(ledger_url, body)
    assert (p["amount_minor"], p["status"], p["risk_score"], p["reward"]) == (
        2_500, "created", 0.25, {"amount": 3})
    assert [(a["gateway"], a["outcome"], a["gateway_ref"]) for a in p["attempts"]] == [
        ("stripe", "approved", "ch_9")]
    assert [r["id"] for r in recent] == [p["id"]]
    assert counts == {"created": 1} and missing is None


def test_every_transition_is_recorded_in_order(ledger_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger)
        for step in ("authorized", "captured", "refunded"):
            await ledger.transition(pid, step)
        return (await ledger.get(pid))["history"]

    assert run_ledger(ledger_url, body) == ["created", "authorized", "captured",
                                            "refunded"]


def test_capturing_a_created_payment_records_the_authorization_first(sqlite_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger)
        await ledger.record(pid, "captured", "stripe", gateway="stripe")
        return (await ledger.get(pid))["history"]

    assert run_ledger(sqlite_url, body) == ["created", "authorized", "captured"]


@pytest.mark.parametrize("path", [["refunded"], ["declined", "authorized"],
                                  ["authorized", "refunded"], ["failed", "captured"],
                                  ["pending", "refunded"]])
def test_a_transition_the_state_machine_forbids_is_refused_and_not_recorded(
        sqlite_url, path):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger)
        with pytest.raises(IllegalTransition) as exc:
            for step in path:
                await ledger.transition(pid, step)
        return str(exc.value), (await ledger.get(pid))["history"]

    message, history = run_ledger(sqlite_url, body)
    assert "expected one of" in message and history[-1] != path[-1]


def test_an_unknown_gateway_outcome_stays_pending_until_status_sync_resolves_it(
        sqlite_url):
    async def body(ledger: Ledger):
        pid = await new_payment(ledger)
        await ledger.transition(pid, "pending", "stripe timed out after sending")
        limbo = [p["id"] for p in await ledger.in_limbo()]
        await ledger.transition(pid, "pending", "status sync: still unknown")
        await ledger.record(pid, "captured", "status sync: captured")
        return limbo, (await ledger.get(pid))["history"], await ledger.in_limbo()

    limbo, history, after = run_ledger(sqlite_url, body)
    assert limbo and history == ["created", "pending", "pending", "captured"]
    assert after == []


def test_sqlite_runs_in_wal_mode(sqlite_url):
    async def body(ledger: Ledger):
        return await ledger.runner.run(
            lambda c: c.exec_driver_sql("PRAGMA journal_mode").scalar())

    assert run_ledger(sqlite_url, body) == "wal"


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///data/l.db", "sqlite:///data/l.db"),
    ("sqlite+aiosqlite:///data/l.db", "sqlite:///data/l.db"),
    ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_any_style_of_url_is_opened_with_a_synchronous_driver(url, expected):
    assert sync_url(url) == expected


def test_an_in_memory_sqlite_url_is_refused_with_what_to_use_instead():
    with pytest.raises(InputError, match="a SQLite file"):
        sync_url("sqlite://")
