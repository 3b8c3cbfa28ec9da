"""The durable dead-letter queue: parked, listed, requeued into the outbox, dropped;
and `smartpay events dlq list/replay` over it."""

from __future__ import annotations

import asyncio
import json

import pytest
import typer
from typer.testing import CliRunner

from serving.events import Event
from serving.ledger import Ledger
from smartpay.errors import InputError
from smartpay.settings import get_settings
from tests.serving.ledger.conftest import run_ledger


def _event(type_: str = "payment_processed") -> Event:
    return Event(type=type_, merchant_id="m", payment_id="p1")


async def _park_three(ledger: Ledger) -> tuple[Event, Event, list[str]]:
    """One event two handlers failed, another one failed; the first was published."""
    paid, minted = _event(), _event("reward_minted")
    await ledger.add_events([paid])
    await ledger.outbox.relay_batch(lambda _: asyncio.sleep(0))
    ids = [await ledger.dead_letters.park(paid, "websocket", "ConnectionError: gone"),
           await ledger.dead_letters.park(paid, "webhook", "HTTP 503"),
           await ledger.dead_letters.park(minted, "webhook", "HTTP 503")]
    return paid, minted, ids


def test_a_parked_event_is_listed_with_its_handler_and_error(ledger_url):
    async def body(ledger: Ledger):
        paid, _, _ = await _park_three(ledger)
        return paid, await ledger.dead_letters.list()

    paid, entries = run_ledger(ledger_url, body)
    assert [(e["handler"], e["event"]["type"]) for e in entries] == [
        ("websocket", "payment_processed"), ("webhook", "payment_processed"),
        ("webhook", "reward_minted")]
    assert entries[0]["event"] == paid.model_dump(mode="json")
    assert entries[0]["error"] == "ConnectionError: gone"


def test_requeue_moves_the_events_back_into_the_outbox_under_their_own_ids(ledger_url):
    async def body(ledger: Ledger):
        paid, minted, _ = await _park_three(ledger)
        wakes = []
        ledger.on_events = lambda: wakes.append(1)
        n = await ledger.dead_letters.requeue()
        sent = []

        async def publish(payload: dict) -> None:
            sent.append(payload["id"])

        await ledger.outbox.relay_batch(publish)
        return n, wakes, sent, [paid.id, minted.id], await ledger.dead_letters.list()

    n, wakes, sent, expected, left = run_ledger(ledger_url, body)
    assert (n, wakes, left) == (3, [1], [])
    assert sent == expected  # one publication per event, however many handlers failed


def test_requeue_by_id_leaves_the_other_entries_parked_and_drop_forgets_one(sqlite_url):
    async def body(ledger: Ledger):
        _, _, ids = await _park_three(ledger)
        n = await ledger.dead_letters.requeue([ids[2]])
        dropped = await ledger.dead_letters.drop(ids[0])
        again = await ledger.dead_letters.drop(ids[0])
        left = [e["entry_id"] for e in await ledger.dead_letters.list()]
        return n, dropped, again, left, ids

    n, dropped, again, left, ids = run_ledger(sqlite_url, body)
    assert (n, dropped, again, left) == (1, True, False, [ids[1]])


@pytest.fixture
def cli(data_dir):
    """`smartpay events ...` on the local profile's ledger in a fresh data dir."""
    from cli import events_cmds

    app = typer.Typer()
    events_cmds.register(app)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, ["events", *args])

    settings = get_settings()
    settings.paths.ledger_db.parent.mkdir(parents=True, exist_ok=True)
    invoke.url = settings.ledger_url
    return invoke


def test_the_cli_lists_the_dead_letters_as_json(cli):
    parked = run_ledger(cli.url, _park_three)
    out = cli("dlq", "list", "--json")
    assert out.exit_code == 0, out.output
    assert [e["entry_id"] for e in json.loads(out.output)] == parked[2]


def test_the_cli_replays_the_chosen_entries_into_the_outbox(cli):
    _, _, ids = run_ledger(cli.url, _park_three)
    out = cli("dlq", "replay", "--id", ids[0], "--id", ids[2])
    assert out.exit_code == 0 and "requeued 2 dead letters" in out.output

    async def state(ledger: Ledger):
        left = [e["entry_id"] for e in await ledger.dead_letters.list()]
        return left, await ledger.outbox.unpublished()

    assert run_ledger(cli.url, state) == ([ids[1]], 2)


def test_the_cli_refuses_an_unknown_entry_id_and_replays_nothing(cli):
    _, _, ids = run_ledger(cli.url, _park_three)
    out = cli("dlq", "replay", "--id", ids[0], "--id", "nope")
    assert isinstance(out.exception, InputError) and "nope" in str(out.exception)
    assert len(run_ledger(cli.url, lambda led: led.dead_letters.list())) == 3
