"""What the rewards page shows: per user of a merchant, the reward units escrowed,
released and clawed back, and the newest reward entries (mints, releases, claw-backs),
read from the reward book for the payments the ledger knows. Pure (the routes read,
this module only adds up)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from pydantic import BaseModel

ESCROW = frozenset({"escrowed", "releasing"})  # held until the refund window passes
RELEASED = frozenset({"released"})


class RewardEntry(BaseModel):
    payment_id: str
    user_id: str
    state: str  # minting, escrowed, releasing, released, clawed_back, canceled, failed
    units: int  # still escrowed or released (base units of the token)
    clawed_units: int  # burnt back after refunds
    release_after: datetime


class UserRewards(BaseModel):
    user_id: str
    payments: int
    escrowed: int
    released: int
    clawed_back: int
    next_release: datetime | None  # when the earliest escrowed reward is released


class RewardsView(BaseModel):
    """GET /rewards."""

    decimals: int  # units / 10**decimals = tokens
    users: list[UserRewards]
    entries: list[RewardEntry]  # newest payments first


def rewards_view(payments: list[dict], book: list[dict], decimals: int,
                 max_entries: int = 50) -> RewardsView:
    """`payments` (newest first) carry id and user_id; `book` the reward book rows of
    those payments. Users are listed by units earned, most first."""
    user_of = {p["id"]: p["user_id"] for p in payments}
    order = {p["id"]: i for i, p in enumerate(payments)}
    rows = sorted((r for r in book if r["payment_id"] in user_of),
                  key=lambda r: order[r["payment_id"]])
    entries = [RewardEntry(payment_id=r["payment_id"], user_id=user_of[r["payment_id"]],
                           state=r["state"], units=int(r["units"]),
                           clawed_units=int(r["clawed_units"] or 0),
                           release_after=_at(r["release_after"])) for r in rows]
    return RewardsView(decimals=decimals, users=_per_user(entries),
                       entries=entries[:max_entries])


def _per_user(entries: list[RewardEntry]) -> list[UserRewards]:
    tally: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0, None])
    for e in entries:
        t = tally[e.user_id]
        t[0] += 1
        t[1] += e.units if e.state in ESCROW else 0
        t[2] += e.units if e.state in RELEASED else 0
        t[3] += e.clawed_units
        if e.state in ESCROW and (t[4] is None or e.release_after < t[4]):
            t[4] = e.release_after
    users = [UserRewards(user_id=u, payments=n, escrowed=esc, released=rel,
                         clawed_back=clawed, next_release=nxt)
             for u, (n, esc, rel, clawed, nxt) in tally.items()]
    return sorted(users, key=lambda u: (-(u.escrowed + u.released), u.user_id))


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(float(epoch_s), timezone.utc)
