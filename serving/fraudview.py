"""What the fraud page shows, computed from the ledger's recent payments: the risk
score distribution, declines and reviews per time bucket, and the alerts those numbers
fire. Pure (the store reads, this module only counts).

The alerts are conditions on the same window, in the spirit of the Prometheus rules in
`infra/prometheus/alerts.yml`: a share over a floor with enough payments to mean it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel

BINS = 20  # score histogram bins of width 0.05 over [0, 1]
MIN_PAYMENTS = 5  # an alert needs at least this many payments behind its share
FAILED_SHARE = 0.05  # as SmartPayFailedPaymentsAbove5Percent
SPIKE_FACTOR = 2.0  # recent decline share over the window's, and over SPIKE_FLOOR
SPIKE_FLOOR = 0.10
RECENT_S = 300  # "recent" for the decline spike: the window's last five minutes
BACKLOG = 20  # payments still held for review


class ScoreBin(BaseModel):
    lo: float
    hi: float
    count: int


class FraudBucket(BaseModel):
    start: datetime
    payments: int
    declined: int  # the fraud model said decline
    review: int  # the fraud model sent it to review


class Alert(BaseModel):
    name: str
    severity: str  # warning | critical
    firing: bool
    value: float | None  # the measured share or count (None: too few payments)
    threshold: float
    summary: str


class FraudStats(BaseModel):
    """GET /fraud/stats."""

    window_s: int
    bucket_s: int
    payments: int
    scored: int  # payments with a risk score (the histogram's total)
    histogram: list[ScoreBin]
    series: list[FraudBucket]
    alerts: list[Alert]


def fraud_stats(rows: list[tuple], since: datetime, window_s: int, bucket_s: int
                ) -> FraudStats:
    """Rows are (created_at, risk_score, fraud_decision, status) of the payments made
    since `since`; the window is `window_s // bucket_s` buckets from `since`."""
    counts = [0] * BINS
    for _, score, _, _ in rows:
        if score is not None:
            counts[min(BINS - 1, max(0, int(score * BINS)))] += 1
    return FraudStats(
        window_s=window_s, bucket_s=bucket_s, payments=len(rows), scored=sum(counts),
        histogram=[ScoreBin(lo=i / BINS, hi=(i + 1) / BINS, count=c)
                   for i, c in enumerate(counts)],
        series=_series(rows, since, window_s, bucket_s),
        alerts=alerts(rows, since + timedelta(seconds=window_s)))


def _series(rows: list[tuple], since: datetime, window_s: int,
            bucket_s: int) -> list[FraudBucket]:
    n = max(1, window_s // bucket_s)
    tally = [[0, 0, 0] for _ in range(n)]
    for at, _, decision, _ in rows:
        i = int((_aware(at) - since).total_seconds() // bucket_s)
        if 0 <= i < n:
            tally[i][0] += 1
            tally[i][1] += decision == "decline"
            tally[i][2] += decision == "review"
    return [FraudBucket(start=since + timedelta(seconds=i * bucket_s), payments=p,
                        declined=d, review=r) for i, (p, d, r) in enumerate(tally)]


def alerts(rows: list[tuple], until: datetime) -> list[Alert]:
    """Failed share, decline spike and review backlog over the window's payments."""
    n = len(rows)
    failed = sum(status == "failed" for *_, status in rows)
    recent = [r for r in rows if _aware(r[0]) >= until - timedelta(seconds=RECENT_S)]
    share = _share(sum(r[2] == "decline" for r in rows), n)
    recent_share = _share(sum(r[2] == "decline" for r in recent), len(recent))
    spike_at = max(SPIKE_FLOOR, SPIKE_FACTOR * (share or 0.0))
    held = sum(decision == "review" and status == "review"
               for _, _, decision, status in rows)
    return [
        Alert(name="FailedPaymentsAbove5Percent", severity="critical",
              value=_share(failed, n), threshold=FAILED_SHARE,
              firing=(_share(failed, n) or 0.0) > FAILED_SHARE,
              summary=f"{failed} of {n} payments failed (no gateway took them)"),
        Alert(name="FraudDeclineSpike", severity="warning", value=recent_share,
              threshold=round(spike_at, 4), firing=(recent_share or 0.0) > spike_at,
              summary=f"fraud declines in the last {RECENT_S // 60} min: "
                      f"{_pct(recent_share)} against {_pct(share)} over the window"),
        Alert(name="ReviewBacklog", severity="warning", value=float(held),
              threshold=BACKLOG, firing=held > BACKLOG,
              summary=f"{held} payments of the window still held for review"),
    ]


def _share(k: int, n: int) -> float | None:
    return round(k / n, 4) if n >= MIN_PAYMENTS else None


def _pct(v: float | None) -> str:
    return "n/a (too few payments)" if v is None else f"{v * 100:.1f} %"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
