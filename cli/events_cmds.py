"""`smartpay events dlq ...`: inspect and replay events that subscribers failed.

Replaying moves the entries back into the ledger's outbox; the running API's relay
publishes them at its next poll, and only the subscribers that failed them run again.
"""

from __future__ import annotations

import asyncio
import json

import typer

from cli._ui import console
from smartpay.errors import InputError

events_app = typer.Typer(help="Domain events and their dead-letter queue.",
                         no_args_is_help=True)
dlq_app = typer.Typer(help="Events a subscriber still failed after its retries.",
                      no_args_is_help=True)
events_app.add_typer(dlq_app, name="dlq")


def register(app: typer.Typer) -> None:
    """Add the `events` command group to the root app."""
    app.add_typer(events_app, name="events")


@dlq_app.command("list")
def dlq_list(
    json_out: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
) -> None:
    """The parked entries, oldest first."""
    entries = asyncio.run(_with_dead_letters(lambda dlq: dlq.list()))
    if json_out:
        typer.echo(json.dumps(entries, indent=2, default=str))
        return
    for e in entries:  # no rich markup: an error text may hold brackets
        console.print(f"{e['entry_id']}  {e['handler']:<12} {e['event']['type']:<18} "
                      f"{e['parked_at']:%Y-%m-%d %H:%M:%S}  {e['error']}", markup=False)
    console.print(f"{len(entries)} dead letters")


@dlq_app.command("replay")
def dlq_replay(
    ids: list[str] = typer.Option(None, "--id", help="Entry to replay (repeatable); "
                                  "all entries when none is given."),
) -> None:
    """Put parked events back into the outbox for the relay to publish again."""
    n = asyncio.run(_with_dead_letters(lambda dlq: _requeue(dlq, ids or None)))
    console.print(f"requeued {n} dead letters; the API's relay publishes them shortly")


async def _requeue(dlq, ids: list[str] | None) -> int:
    """Requeue the given entries, refusing the lot if any id is unknown."""
    if ids:
        known = {e["entry_id"] for e in await dlq.list()}
        unknown = sorted(set(ids) - known)
        if unknown:
            raise InputError("--id", ", ".join(unknown),
                             "entry ids shown by `smartpay events dlq list`")
    return await dlq.requeue(ids)


async def _with_dead_letters(use):
    """Run `use(dead_letters)` on the migrated ledger of the active profile."""
    ledger = await _open_ledger()
    try:
        return await use(ledger.dead_letters)
    finally:
        await ledger.close()


async def _open_ledger():
    """The active profile's ledger, opened by the one composition root."""
    from serving.composition import open_ledger
    from smartpay.settings import get_settings

    return await open_ledger(get_settings())
