"""The ledger's state machine, transitions and migrations, on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from serving.ledger import IllegalTransition, Ledger


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    led.migrate()
    yield led
    led.close()


def _payment(led: Ledger) -> str:
    return led.create_payment(merchant_id="m", amount_minor=100, currency="USD",
                              method_type="card", method_token="pm_card_visa")


def test_migrations_create_the_tables_and_can_run_twice(ledger):
    ledger.migrate()
    names = set(inspect(ledger.engine).get_table_names())
    assert {"payments", "transitions", "gateway_attempts", "idempotency_keys",
            "alembic_version"} <= names


def test_every_transition_is_recorded_in_order(ledger):
    pid = _payment(ledger)
    ledger.transition(pid, "authorized")
    ledger.transition(pid, "captured")
    ledger.transition(pid, "refunded")
    assert ledger.get(pid)["history"] == ["created", "authorized", "captured", "refunded"]


def test_capturing_a_created_payment_records_the_authorization_first(ledger):
    pid = _payment(ledger)
    ledger.record(pid, "captured", "stripe", gateway="stripe")
    assert ledger.get(pid)["history"] == ["created", "authorized", "captured"]


@pytest.mark.parametrize("path", [["refunded"], ["declined", "authorized"],
                                  ["authorized", "refunded"], ["failed", "captured"]])
def test_a_transition_the_state_machine_forbids_is_refused_and_not_recorded(ledger, path):
    pid = _payment(ledger)
    with pytest.raises(IllegalTransition) as exc:
        for step in path:
            ledger.transition(pid, step)
    assert "expected one of" in str(exc.value)
    assert ledger.get(pid)["history"][-1] != path[-1]


def test_sqlite_runs_in_wal_mode(ledger):
    with ledger.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_claimed_key_replays_conflicts_or_reports_in_progress(ledger):
    assert ledger.claim("m", "k", "h1").kind == "new"
    assert ledger.claim("m", "k", "h1").kind == "in_progress"
    assert ledger.claim("m", "k", "h2").kind == "conflict"
    ledger.finish("m", "k", 200, {"ok": 1})
    again = ledger.claim("m", "k", "h1")
    assert (again.kind, again.status_code, again.response) == ("replay", 200, {"ok": 1})
