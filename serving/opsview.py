"""What the operations pages show about gateways, computed from the ledger: per gateway
and time bucket the attempts, their approval rate and the routed attempts' mean
latency; the router's traffic split and exploration share; breaker states now. Pure
(the store reads, this module only counts)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

APPROVED = frozenset({"captured", "authorized", "refunded"})


class Bucket(BaseModel):
    start: datetime
    attempts: int
    approved: int
    approval_rate: float | None  # None: no attempt in the bucket
    mean_latency_ms: float | None  # of the attempts the router chose this gateway for


class GatewayView(BaseModel):
    name: str
    breaker: str  # closed | open
    attempts: int
    approval_rate: float | None
    routed_share: float  # share of the router's decisions that chose it
    series: list[Bucket]


class GatewayStats(BaseModel):
    """GET /admin/gateways."""

    window_s: int
    bucket_s: int
    decisions: int
    exploration_share: float | None  # decisions that did not take the likeliest gateway
    gateways: list[GatewayView]


def gateway_stats(attempts: list[tuple], decisions: list[tuple], breakers: dict[str, bool],
                  since: datetime, window_s: int, bucket_s: int) -> GatewayStats:
    """Series of `window_s // bucket_s` buckets from `since` for every gateway seen or
    configured."""
    n_buckets = max(1, window_s // bucket_s)
    counts = defaultdict(lambda: [[0, 0] for _ in range(n_buckets)])
    latency = defaultdict(lambda: [[0.0, 0] for _ in range(n_buckets)])

    def slot(at: datetime) -> int | None:
        i = int((_aware(at) - since).total_seconds() // bucket_s)
        return i if 0 <= i < n_buckets else None

    for gateway, outcome, at in attempts:
        if outcome == "pending" or (i := slot(at)) is None:
            continue
        counts[gateway][i][0] += 1
        counts[gateway][i][1] += outcome in APPROVED
    routed: dict[str, int] = defaultdict(int)
    explored = 0
    for gateway, at, ms, p, p_max in decisions:
        routed[gateway] += 1
        explored += p < p_max - 1e-12
        if ms is not None and (i := slot(at)) is not None:
            latency[gateway][i][0] += ms
            latency[gateway][i][1] += 1
    names = sorted(set(breakers) | set(counts) | set(routed))
    views = []
    for name in names:
        series = []
        for i in range(n_buckets):
            n, ok = counts[name][i]
            total_ms, m = latency[name][i]
            series.append(Bucket(start=since + timedelta(seconds=i * bucket_s),
                                 attempts=n, approved=ok,
                                 approval_rate=round(ok / n, 4) if n else None,
                                 mean_latency_ms=round(total_ms / m, 1) if m else None))
        n_all = sum(b.attempts for b in series)
        views.append(GatewayView(
            name=name, breaker="open" if breakers.get(name) else "closed", attempts=n_all,
            approval_rate=round(sum(b.approved for b in series) / n_all, 4) if n_all else None,
            routed_share=round(routed[name] / len(decisions), 4) if decisions else 0.0,
            series=series))
    return GatewayStats(window_s=window_s, bucket_s=bucket_s, decisions=len(decisions),
                        exploration_share=round(explored / len(decisions), 4)
                        if decisions else None, gateways=views)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
