"""The ledger against each gateway's own records, to the minor unit: pure, no I/O.

A gateway record is what the gateway says about one charge, paired with the attempt
reference it was sent under: `captured_minor`, `refunded_minor`, `gateway_ref`. One
reference may have several charges (a re-send the gateway did not recognise). The
ledger counts a payment as charged when it is captured or refunded; its refunded
amount here is what was settled (pending refunds excluded).
Anything the two disagree on is a problem a person has to look at; a charge the
ledger has never heard of (another system on the same account) is only counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

Records = Mapping[str, Iterable[tuple[str, Any]]]  # gateway -> (reference, record)

CHARGED = frozenset({"captured", "refunded"})
TOTALS = (
    "ledger_captured_minor",
    "gateway_captured_minor",
    "ledger_refunded_minor",
    "gateway_refunded_minor",
    "charged_payments",
    "foreign_charges",
)


def compare(
    payments: Iterable[dict], pending_refunds: Mapping[str, int], records: Records
) -> tuple[dict, list[str]]:
    """({gateway: totals}, problems) for the ledger's payments and each gateway's
    records."""
    payments = list(payments)
    totals = {g: dict.fromkeys(TOTALS, 0) for g in records}
    charges = _charges_by_payment(payments, records, totals)
    problems: list[str] = []
    for p in payments:
        settled = p["refunded_minor"] - pending_refunds.get(p["id"], 0)
        mine = charges.get(p["id"], [])
        if p["status"] in CHARGED and p["gateway"] in totals:
            t = totals[p["gateway"]]
            t["ledger_captured_minor"] += p["amount_minor"]
            t["ledger_refunded_minor"] += settled
        for gw, r in mine:
            totals[gw]["gateway_captured_minor"] += r.captured_minor
            totals[gw]["gateway_refunded_minor"] += r.refunded_minor
            totals[gw]["charged_payments"] += 1
        problems += payment_problems(p, mine, settled, known=set(records))
    return totals, problems


def payment_problems(
    p: dict, charges: list[tuple[str, Any]], settled_refunds: int, known: set[str]
) -> list[str]:
    """What is wrong between one ledger payment and the charges made for it."""
    pid, status = p["id"], p["status"]
    where = ", ".join(f"{gw} {r.gateway_ref}" for gw, r in charges)
    if len(charges) > 1:
        return [f"{pid}: charged {len(charges)} times ({where})"]
    if not charges:
        if status in CHARGED and p["gateway"] in known:
            return [f"{pid}: {status} in the ledger, no charge at {p['gateway']}"]
        return []
    gw, r = charges[0]
    if status not in CHARGED:
        return [f"{pid}: charged at {gw} ({r.gateway_ref}), the ledger says {status}"]
    out = []
    if (gw, r.gateway_ref) != (p["gateway"], p["gateway_ref"]):
        out.append(
            f"{pid}: charged at {gw} {r.gateway_ref}, the ledger names "
            f"{p['gateway']} {p['gateway_ref']}"
        )
    if r.captured_minor != p["amount_minor"]:
        out.append(
            f"{pid}: {gw} captured {r.captured_minor}, the ledger {p['amount_minor']}"
        )
    if r.refunded_minor != settled_refunds:
        out.append(
            f"{pid}: {gw} refunded {r.refunded_minor}, the ledger {settled_refunds}"
        )
    return out


def _charges_by_payment(
    payments: list[dict], records: Records, totals: dict
) -> dict[str, list[tuple[str, Any]]]:
    """Each payment's charges at any gateway (a record with money captured), found
    through the attempt reference it was sent under."""
    owner = {a["reference"]: p["id"] for p in payments for a in p["attempts"]}
    charges: dict[str, list] = defaultdict(list)
    for gw, recs in records.items():
        for ref, r in recs:
            if r is None or r.captured_minor <= 0:
                continue
            if ref in owner:
                charges[owner[ref]].append((gw, r))
            else:
                totals[gw]["foreign_charges"] += 1
    return charges
