"""`smartpay reconcile`: one reconciliation round over the configured ledger and
gateways, with a report of what it changed and of the ledger against each gateway."""

from __future__ import annotations

import asyncio
import json

import typer

from cli._ui import console


def register(app: typer.Typer) -> None:
    """Add `reconcile` to the root app."""
    app.command("reconcile")(reconcile)


def reconcile(
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    refund_min_age_s: float = typer.Option(
        30.0,
        min=0,
        help="Leave refunds younger than this alone (they may still be "
        "in their request).",
    ),
) -> None:
    """Settle payments, refunds and idempotency keys left in flight, then compare the
    ledger with each gateway in minor units; exit 1 when they disagree."""
    from cli.gateways_cmds import _settings

    report = asyncio.run(_run(_settings(), refund_min_age_s))
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report)
    if not report.ok:
        raise typer.Exit(1)


async def _run(settings, refund_min_age_s: float):
    """A runtime from the composition root (no models: status sync needs none), its
    events flowing while the round runs."""
    from serving.composition import build_runtime
    from serving.payments.reconcile import reconcile as round_

    rt = await build_runtime(settings, fraud=None, router=None, assistant=None)
    try:
        await rt.bus.start()
        rt.relay.start()
        return await round_(rt.payments, refund_min_age_s=refund_min_age_s)
    finally:
        await rt.aclose()


def _print(report) -> None:
    console.print(f"payments settled: {report.payments or 'none'}")
    console.print(f"refunds settled:  {report.refunds or 'none'}")
    console.print(f"keys settled:     {report.keys or 'none'}")
    for name, t in report.gateways.items():
        console.print(
            f"{name:<10} captured ledger={t['ledger_captured_minor']} "
            f"gateway={t['gateway_captured_minor']}  refunded "
            f"ledger={t['ledger_refunded_minor']} gateway={t['gateway_refunded_minor']}"
            f"  ({t['charged_payments']} charges, {t['foreign_charges']} not ours)"
        )
    for problem in report.problems:
        console.print(f"[red]mismatch[/] {problem}")
    console.print(
        "[green]ledger equals every gateway[/]"
        if report.ok
        else f"[red]{len(report.problems)} mismatches[/]"
    )
