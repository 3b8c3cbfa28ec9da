"""Compare what the gateway stand-in, the ledger, the reward book, the chain and the
event stream each say happened; return the list of disagreements (a reconciliation
report the crash tests assert is empty)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from sqlalchemy import create_engine, text


def _ledger(db: str) -> tuple[dict, dict]:  # prod: every book in one database
    eng = create_engine(db)
    with eng.connect() as c:
        pays = {r.id: dict(r._mapping) for r in c.execute(text(
            "select id, status, amount_minor, refunded_minor, gateway, gateway_ref, "
            "idem_key from payments"))}
        rewards = {r.payment_id: dict(r._mapping) for r in c.execute(text(
            "select payment_id, state, units from reward_entries"))}
    eng.dispose()
    return pays, rewards


def _intents(env: dict) -> list:
    import stripe

    client = stripe.StripeClient(env.get("SMARTPAY_STRIPE_API_KEY", "sk_test_local"),
                                 base_addresses={"api": env["SMARTPAY_GATEWAYS__STRIPE_API_BASE"]})
    return [i.to_dict() for i in client.payment_intents.list({"limit": 100}).auto_paging_iter()]


def _refunded(intent) -> int:
    charge = intent.get("latest_charge")
    if isinstance(charge, str) or charge is None:
        return 0
    return int(charge.get("amount_refunded") or 0)


def _check_gateway(pays: dict, intents: list, problems: list) -> int:
    by_payment = defaultdict(list)
    for it in intents:
        ref = (it.get("metadata") or {}).get("payment_id", "")
        if it["status"] == "succeeded":
            by_payment[ref.rsplit("-", 1)[0]].append(it)
    for pid, charged in by_payment.items():
        p = pays.get(pid)
        if p is None or p["status"] not in ("captured", "refunded"):
            problems.append(f"{pid}: charged at stripe, ledger says {p and p['status']}")
        elif len(charged) > 1:
            problems.append(f"{pid}: charged {len(charged)} times")
        elif charged[0]["id"] != p["gateway_ref"] or charged[0]["amount"] != p["amount_minor"]:
            problems.append(f"{pid}: stripe {charged[0]['id']} {charged[0]['amount']} vs "
                            f"ledger {p['gateway_ref']} {p['amount_minor']}")
        elif _refunded(charged[0]) != p["refunded_minor"]:
            problems.append(f"{pid}: refunded stripe {_refunded(charged[0])} vs ledger "
                            f"{p['refunded_minor']}")
    captured = [i for i, p in pays.items() if p["status"] in ("captured", "refunded")
                and p["gateway"] == "stripe"]
    problems += [f"{i}: captured in the ledger, no charge at stripe"
                 for i in captured if i not in by_payment]
    problems += [f"{i}: left {p['status']}" for i, p in pays.items()
                 if p["status"] in ("created", "authorized", "pending")]
    return len(captured)


async def _supply(env: dict) -> int:
    from solders.pubkey import Pubkey

    from integrations.gateways.solana import spl
    from integrations.gateways.solana.chain import RpcBackend

    backend = RpcBackend(env["SMARTPAY_GATEWAYS__SOLANA_RPC_URL"])
    try:
        return await spl.mint_supply(backend, Pubkey.from_string(env["SMARTPAY_REWARDS__MINT"]))
    finally:
        await backend.aclose()


def _events(prefix: str) -> Counter:
    import redis

    r = redis.Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    seen: dict[str, dict] = {}
    for _id, fields in r.xrange(f"{prefix}:events"):
        e = json.loads(fields["e"])
        seen.setdefault(e["id"], e)  # the deduping consumer: one per event id
    r.close()
    return Counter(e["payment_id"] for e in seen.values()
                   if e["type"] == "payment_processed" and e["data"].get("status") == "captured"
                   and "refunded_minor" not in e["data"])


async def audit(env: dict, db: str, prefix: str, answers: dict) -> dict:
    """Every disagreement between the parties, plus a few counts."""
    problems: list[str] = []
    pays, rewards = _ledger(db)
    captured = _check_gateway(pays, _intents(env), problems)
    minted = sum(r["units"] for r in rewards.values() if r["state"] in ("escrowed", "released"))
    supply = await _supply(env)
    if supply != minted:
        problems.append(f"reward mint supply {supply} != escrowed+released units {minted}")
    events = _events(prefix)
    for pid, p in pays.items():
        if p["status"] in ("captured", "refunded") and events.get(pid, 0) != 1:
            problems.append(f"{pid}: {events.get(pid, 0)} distinct payment_processed(captured)")
    keys = Counter(p["idem_key"] for p in pays.values())
    problems += [f"key {k}: {n} payments" for k, n in keys.items() if n > 1]
    for name, a in answers.items():
        if name.startswith("p") and (not a or a.get("status") not in
                                     ("captured", "declined", "failed", "refunded")):
            problems.append(f"{name}: answer after restart {a}")
    return {"problems": problems, "captured": captured, "payments": len(pays),
            "rewards": len(rewards), "supply": supply,
            "killed_requests": answers.get("_killed", 0)}
