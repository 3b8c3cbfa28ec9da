"""One reconciliation round (`smartpay reconcile`): settle what a crash or a lost
answer left in flight, then compare the ledger with each gateway's own records.

Settled are: holds for review past their deadline (given the configured default
verdict), payments left created/authorized/pending/capturing/voiding (status sync), refunds whose
outcome is unknown (re-sent under their own idempotency key, so one that went through
is answered, not repeated) and idempotency keys whose lease expired (answered from
their payment, or released when no payment was ever written under them). The report
says what changed and, per gateway, the captured and refunded totals of both sides
in minor units with every disagreement (a double charge, a charge the ledger does not
know as captured, a captured payment with no charge, an amount that differs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from serving.payments import refunds
from serving.payments.comparison import compare
from serving.payments.service import PaymentService

log = logging.getLogger("smartpay.reconcile")


@dataclass
class Report:
    """What one round changed, and the ledger against each gateway."""

    payments: dict[str, int] = field(default_factory=dict)  # outcome -> count
    refunds: dict[str, int] = field(default_factory=dict)  # state after -> count
    keys: dict[str, int] = field(default_factory=dict)  # answered/released/pending
    gateways: dict[str, dict] = field(default_factory=dict)  # totals per gateway
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the ledger equals every gateway's records."""
        return not self.problems

    def as_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


async def reconcile(
    svc: PaymentService,
    *,
    refund_min_age_s: float = 30.0,
    clock: Callable[[], float] = time.time,
) -> Report:
    """Settle what was left in flight, then compare the ledger with every gateway."""
    report = await settle(svc, refund_min_age_s=refund_min_age_s, clock=clock)
    report.gateways, report.problems = await ledger_vs_gateways(svc)
    return report


async def settle(
    svc: PaymentService,
    *,
    refund_min_age_s: float = 30.0,
    payment_min_age_s: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> Report:
    """Settle payments, refunds and keys left in flight (cheap enough to run
    periodically: it reads only what is in flight). Refunds younger than
    `refund_min_age_s`, and payments changed in the last `payment_min_age_s`, may
    still be in their request: they are left alone."""
    expired = await svc.resolve_expired_reviews()
    report = Report(payments=await svc.reconcile(payment_min_age_s))
    if expired:
        report.payments["review_deadline"] = expired
    report.refunds = await _settle_refunds(svc, refund_min_age_s, clock)
    report.keys = await _settle_keys(svc)
    return report


async def ledger_vs_gateways(svc: PaymentService) -> tuple[dict, list[str]]:
    """Per gateway totals and the disagreements between the ledger and the gateways."""
    payments = await svc.store.every_payment()
    pending: dict[str, int] = {}
    for r in await svc.store.pending_refunds():
        pending[r["payment_id"]] = pending.get(r["payment_id"], 0) + r["amount_minor"]
    records, unread = {}, []
    for name, port in svc.gateways.items():
        mine = [a for p in payments for a in p["attempts"] if a["gateway"] == name]
        try:
            records[name] = await gateway_records(port, mine)
        except Exception as exc:  # unreachable: no conclusion about its payments
            unread.append(
                f"{name}: its records could not be read "
                f"({type(exc).__name__}); nothing compared"
            )
    totals, problems = compare(payments, pending, records)
    return totals, unread + problems


async def gateway_records(port, attempts: list[dict]) -> list[tuple[str, object]]:
    """(attempt reference, what the gateway says) for one gateway: its full list when
    it has one (so every charge under any reference is seen, twice-made ones too),
    else one lookup per attempt."""
    gw = getattr(port, "gw", None)  # the ResilientGateway behind the port
    if gw is None:
        return []
    listing = getattr(gw.inner, "records", None)
    if listing is not None:
        return [(r.payment_id, r) for r in await listing()]
    return [
        (a["reference"], await gw.sync(a["reference"], a["gateway_ref"]))
        for a in attempts
    ]


async def _settle_refunds(
    svc: PaymentService, min_age_s: float, clock
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in await svc.store.pending_refunds():
        if clock() - _epoch(r["created_at"]) < min_age_s:
            continue
        try:
            state = await refunds.resend_pending(svc, r)
        except Exception as exc:  # one gateway down must not stop the others
            log.warning("refund %s not settled: %s", r["refund_id"], type(exc).__name__)
            state = "error"
        counts[state] = counts.get(state, 0) + 1
    return counts


async def _settle_keys(svc: PaymentService) -> dict[str, int]:
    """Answer each expired key from its payment, or release it when none exists (the
    request died before writing anything, so a retry may run it)."""
    counts: dict[str, int] = {}
    for k in await svc.store.stuck_keys():
        p = await svc.store.payment_by_key(k["merchant_id"], k["key"])
        if p is None:
            await svc.store.release(k["merchant_id"], k["key"])
            outcome = "released"
        else:
            view = await svc.sync_one(p)
            outcome = "pending" if view.status == "pending" else "answered"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _epoch(at) -> float:
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
    return float(at or 0)
