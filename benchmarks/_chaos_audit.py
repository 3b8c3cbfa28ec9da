"""What the chaos benchmark concludes from its answers, the ledger and the gateway.

Pure functions first (an answer's kind, the tallies, the acceptance lines), then the
two readers: the ledger's payments by Idempotency-Key (its SQLite file, read-only) and
localstripe's payment intents (through the official client, as a merchant would).
"""

from __future__ import annotations

import json
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
    """The ledger and the gateway against the requests, after status sync."""

    missing: list[str] = field(default_factory=list)  # keys with no payment row
    several: list[str] = field(default_factory=list)  # keys with more than one row
    unsettled: list[str] = field(default_factory=list)  # row not final after sync
    double_charged: list[str] = field(default_factory=list)  # payment charged > once
    key_charged_twice: list[str] = field(default_factory=list)  # key with > 1 charge
    charged_not_recorded: list[str] = field(default_factory=list)  # money, no capture
    recorded_not_charged: list[str] = field(default_factory=list)  # capture, no money
    replay_mismatch: list[str] = field(default_factory=list)  # re-send named another

    def lost(self) -> int:
        """Requests whose payment the ledger does not hold, final, as the gateway does."""
        return len(set(self.missing + self.unsettled + self.charged_not_recorded
                       + self.recorded_not_charged + self.replay_mismatch))

    def double(self) -> int:
        return len(set(self.double_charged + self.several + self.key_charged_twice))


def audit(keys: list[str], rows: list[dict], charges: dict[str, int],
          replays: dict[str, str | None], stripe_gateway: str = "stripe") -> Audit:
    """Compare. `rows`: the ledger's payments (id, status, idem_key, gateway);
    `charges`: captured intents at localstripe per payment id; `replays`: the payment
    id each key's re-sent request was answered with (None: no payment answered)."""
    out, by_key = Audit(), defaultdict(list)
    for r in rows:
        by_key[r["idem_key"]].append(r)
    for key in keys:
        mine = by_key.get(key, [])
        if not mine:
            out.missing.append(key)
            continue
        if len(mine) > 1:
            out.several.append(key)
        if sum(charges.get(r["id"], 0) for r in mine) > 1:
            out.key_charged_twice.append(key)
        for r in mine:
            _payment(out, key, r, charges.get(r["id"], 0), stripe_gateway)
        if replays.get(key) != mine[0]["id"]:
            out.replay_mismatch.append(key)
    return out


def _payment(out: Audit, key: str, r: dict, n_charges: int, stripe_gateway: str) -> None:
    if r["status"] not in FINAL:
        out.unsettled.append(key)
    if n_charges > 1:
        out.double_charged.append(key)
    if n_charges and r["status"] not in CHARGED:
        out.charged_not_recorded.append(key)
    if not n_charges and r["status"] in CHARGED and r["gateway"] == stripe_gateway:
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
