"""What the chaos benchmark concludes from its answers, the ledger and the gateway.

Pure functions first (an answer's kind, the tallies, the acceptance lines), then the
two readers: the ledger's payments by Idempotency-Key (its SQLite file, read-only) and
localstripe's payment intents (through the official client, as a merchant would).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

FINAL = frozenset({"captured", "declined", "failed", "voided", "refunded"})
CHARGED = frozenset({"captured", "refunded"})
# A client retries these with the same Idempotency-Key (nothing is charged twice):
# the API said so (503 + Retry-After, 409 in progress, 429), or the answer was lost.
RETRYABLE_STATUS = frozenset({0, 429, 500, 502, 503, 504})


def answer_kind(status: int, body: bytes) -> str:
    """One answer in a word: a payment status for a 200, else `<http status> <error
    code>`, or `connection_error` when the connection closed unanswered."""
    if status == 0:
        return "connection_error"
    try:
        doc = json.loads(body)
    except ValueError:
        doc = {}
    if status == 200:
        return str(doc.get("status") or "200 unreadable")
    return f"{status} {doc.get('error', '') if isinstance(doc, dict) else ''}".strip()


def retryable(status: int, body: bytes) -> bool:
    """Whether a careful client sends the same request again (same key)."""
    if status in RETRYABLE_STATUS:
        return True
    return status == 409 and b"idempotency_in_progress" in body


@dataclass
class Answer:
    """One /pay request: its first answer, its last one (after the client's retries)
    and the payment it named."""

    key: str
    first: str = ""
    last: str = ""
    tries: int = 0
    first_ms: float = 0.0
    total_ms: float = 0.0
    payment_id: str | None = None
    sent_s: float = 0.0  # when it was first sent, from the start of the run


def timeline(answers: list[Answer], bucket_s: float = 5.0) -> list[dict]:
    """Per `bucket_s` of sending time: requests, first answers not final, and the
    first answers' p50/p99 latency (ms), to see each fault's footprint."""
    buckets: dict[int, list[Answer]] = defaultdict(list)
    for a in answers:
        buckets[int(a.sent_s // bucket_s)].append(a)
    out = []
    for b, group in sorted(buckets.items()):
        ms = sorted(a.first_ms for a in group)
        out.append({"from_s": b * bucket_s, "n": len(group),
                    "not_final": sum(a.first not in FINAL for a in group),
                    "p50_ms": round(ms[len(ms) // 2], 1),
                    "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1)})
    return out


def tallies(answers: list[Answer]) -> dict:
    """Counts by kind of the first and the last answers, and the final share of each."""
    n = max(1, len(answers))
    first, last = Counter(a.first for a in answers), Counter(a.last for a in answers)
    return {"requests": len(answers),
            "first_answers": dict(first.most_common()),
            "last_answers": dict(last.most_common()),
            "first_final_pct": 100 * sum(first[k] for k in FINAL) / n,
            "last_final_pct": 100 * sum(last[k] for k in FINAL) / n,
            "retried": sum(a.tries > 1 for a in answers)}


@dataclass
class Audit:
    """The ledger and the gateways against the requests, after status sync. Each list
    holds Idempotency-Keys."""

    answered_unrecorded: list[str] = field(default_factory=list)  # final answer, no row
    unanswered_unrecorded: list[str] = field(default_factory=list)  # no row, no answer
    unsettled: list[str] = field(default_factory=list)  # row not final after sync
    answer_disagrees: list[str] = field(default_factory=list)  # answer != ledger status
    replay_mismatch: list[str] = field(default_factory=list)  # re-send named another
    several: list[str] = field(default_factory=list)  # more than one payment row
    double_charged: list[str] = field(default_factory=list)  # charged more than once
    charged_not_recorded: list[str] = field(default_factory=list)  # money, no capture
    recorded_not_charged: list[str] = field(default_factory=list)  # capture, no money

    def lost(self) -> int:
        """Requests whose payment the ledger does not hold, final, as the gateways do
        (a request never answered with a final status and never recorded is not lost:
        its client was told, or saw, nothing was done, and its replay made it)."""
        return len(set(self.answered_unrecorded + self.unsettled + self.answer_disagrees
                       + self.replay_mismatch + self.charged_not_recorded
                       + self.recorded_not_charged))

    def double(self) -> int:
        return len(set(self.double_charged + self.several))


def audit(answers: list[Answer], settled: list[dict], final: list[dict],
          charges: dict[str, int], replays: dict[str, str | None],
          problems: list[str] = ()) -> Audit:
    """Compare. `settled`: the ledger's payments (id, status, idem_key, gateway) after
    status sync; `final`: the same after every request was sent once more, whose
    answers named the payment ids in `replays` (None: no payment); `charges`: captured
    intents at localstripe per payment id; `problems`: `smartpay reconcile`'s
    disagreements between the ledger and every gateway."""
    out = Audit()
    before, after = _by_key(settled), _by_key(final)
    for a in answers:
        _request(out, a, before.get(a.key, []), replays.get(a.key))
        rows = after.get(a.key, [])
        if len(rows) > 1:
            out.several.append(a.key)
        if sum(charges.get(r["id"], 0) for r in rows) > 1:
            out.double_charged.append(a.key)
        for r in rows:
            if charges.get(r["id"]) and r["status"] not in CHARGED:
                out.charged_not_recorded.append(a.key)
            if not charges.get(r["id"]) and r["status"] in CHARGED and (
                    r["gateway"] == "stripe"):
                out.recorded_not_charged.append(a.key)
    _reconciled(out, problems, {r["id"]: r["idem_key"] for r in final})
    return out


def _by_key(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["idem_key"]].append(r)
    return out


def _request(out: Audit, a: Answer, rows: list[dict], replayed: str | None) -> None:
    if not rows:
        (out.answered_unrecorded if a.last in FINAL else out.unanswered_unrecorded
         ).append(a.key)
        if replayed is None:
            out.replay_mismatch.append(a.key)
        return
    r = rows[0]
    if r["status"] not in FINAL:
        out.unsettled.append(a.key)
    if a.last in FINAL and a.last != r["status"]:
        out.answer_disagrees.append(a.key)
    if replayed != r["id"]:
        out.replay_mismatch.append(a.key)


def _reconciled(out: Audit, problems, key_of: dict[str, str]) -> None:
    """Sort the reconciliation's findings (`<payment id>: ...`) by kind."""
    for p in problems:
        key = key_of.get(p.split(":", 1)[0])
        if key is None:
            continue
        if re.search(r": charged \d+ times", p):
            out.double_charged.append(key)
        elif ", the ledger says " in p:
            out.charged_not_recorded.append(key)
        elif " in the ledger, no charge at " in p:
            out.recorded_not_charged.append(key)


def acceptance(t: dict, a: Audit, problems: int) -> list[tuple[str, str, bool]]:
    """(line, figure, pass) for each acceptance line of the chaos phase."""
    return [
        ("requests answered with a final status (>= 99.9 %)",
         f"{t['last_final_pct']:.3f} %", t["last_final_pct"] >= 99.9),
        ("double charges (0)", str(a.double()), a.double() == 0),
        ("lost payments (0)", str(a.lost()), a.lost() == 0),
        ("reconciliation mismatches, every gateway (0)", str(problems), problems == 0),
    ]


def ledger_rows(ledger_db: str, prefix: str) -> list[dict]:
    """This run's payments in the local ledger (SQLite, opened read-only)."""
    import sqlite3

    con = sqlite3.connect(f"file:{ledger_db}?mode=ro", uri=True)
    try:
        cur = con.execute("select id, status, idem_key, gateway, amount_minor "
                          "from payments where idem_key like ?", (prefix + "%",))
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()


def stripe_charges(api_base: str, api_key: str) -> dict[str, int]:
    """Captured payment intents at localstripe per payment id (the attempt reference
    in the intent's metadata is `<payment id>-<attempt>`)."""
    import stripe

    client = stripe.StripeClient(api_key, base_addresses={"api": api_base})
    out: Counter = Counter()
    for found in client.payment_intents.list({"limit": 100}).auto_paging_iter():
        intent = found.to_dict()
        ref = (intent.get("metadata") or {}).get("payment_id", "")
        if intent["status"] == "succeeded" and ref:
            out[ref.rsplit("-", 1)[0]] += 1
    return dict(out)
