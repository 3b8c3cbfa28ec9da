"""SmartReward: loyalty tokens minted per successful payment, escrowed, then released.

On a successful payment the service mints the configured amount into escrow (the
mint authority's own token account). Once the refund window has passed,
`release_due` transfers it to the payer's associated token account, creating that
account when missing. A refund during the window burns the matching share of the
escrow (claw-back); a refund before anything was minted cancels the reward.

Minting is idempotent per payment id: the ledger row is claimed atomically, with the
signed transaction recorded before it is sent, so replays, retries and concurrent
duplicates mint once. The same code runs on LiteSVM and on JSON-RPC back-ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

from pydantic import BaseModel
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from integrations.gateways.solana import spl
from integrations.gateways.solana.chain import ChainBackend, ChainError, TxOutcome, confirm
from integrations.rewards.ledger import RewardLedger
from smartpay.errors import SmartPayError
from smartpay.money import CURRENCY_EXPONENT


class RewardError(SmartPayError):
    """The chain could not be reached or refused a reward transaction."""


@dataclass(frozen=True)
class RewardConfig:
    """Which token, how much per payment, how long rewards stay in escrow."""

    mint: Pubkey
    decimals: int = 6
    tokens_per_step: int = 1
    step_major_units: int = 10
    refund_window_s: float = 14 * 24 * 3600
    balance_ttl_s: float = 300.0
    confirm_timeout_s: float = 10.0
    expiry_s: float = 120.0


class RewardRecord(BaseModel):
    """One payment's reward as the ledger knows it."""

    payment_id: str
    owner: str
    state: str
    units: int
    clawed_units: int
    release_after: float
    mint_sig: str | None = None
    release_sig: str | None = None


def reward_units(amount_minor: int, currency: str, cfg: RewardConfig) -> int:
    """Token base units earned by a payment (e.g. 1 token per 10 USD, pro rata)."""
    per_minor = cfg.step_major_units * 10 ** CURRENCY_EXPONENT[currency]
    return amount_minor * cfg.tokens_per_step * 10**cfg.decimals // per_minor


def clawback_target(original_units: int, refunded_minor: int, amount_minor: int) -> int:
    """Units that should be clawed back in total after `refunded_minor` was refunded."""
    if amount_minor <= 0:
        return original_units
    return min(original_units, -(-original_units * refunded_minor // amount_minor))


# Payments per batched reward transaction: 20 payment ids in the memo keep the
# transaction well under Solana's 1,232-byte packet (a test builds the largest one).
MAX_BATCH = 20


class RewardClaim(NamedTuple):
    """One payment to reward: what `reward_payment` takes, as one value."""

    payment_id: str
    owner: str
    amount_minor: int
    currency: str


class RewardService:
    """Mint, escrow, release and claw back SmartReward tokens."""

    def __init__(self, backend: ChainBackend, ledger: RewardLedger, authority: Keypair,
                 config: RewardConfig, clock: Callable[[], float] = time.time) -> None:
        self.backend, self.ledger, self.config = backend, ledger, config
        self._authority, self._clock = authority, clock
        self._balances: dict[str, tuple[float, int]] = {}

    async def reward_payment(self, payment_id: str, owner: str, amount_minor: int, currency: str) -> RewardRecord:
        """Mint this payment's reward into escrow, once, however often it is called.

        The claim comes first: a payment's first call (the common case) then costs two
        ledger writes and no read; a replay finds the claim taken and reads the entry.
        """
        row = self._entry(RewardClaim(payment_id, owner, amount_minor, currency), self._clock())
        tx = await self._tx(self._mint_ixs(payment_id, row["units"])) if row["units"] else None
        if tx is not None:
            row.update(pending_sig=_sig(tx), pending_tx=bytes(tx))
        if not await self.ledger.claim(**row):  # an earlier call owns this payment's entry
            row = await self.ledger.must(payment_id)
            return await (self._retry_mint(row) if row["state"] == "failed" else self._settled(row))
        if tx is None:
            return _record(row)
        return await self._run(payment_id, "minting", tx, row)

    async def reward_payments(self, claims: Sequence[RewardClaim]) -> list[RewardRecord]:
        """Mint a batch of payments' rewards in one transaction: one send and one
        confirmation for the batch instead of one per payment (the chain round trips
        were a quarter of a payment's CPU). One mint of the total into escrow and one
        memo naming every payment; each payment keeps its own entry.

        Each payment is still rewarded once however often it is passed: the batch's
        claims are inserted together or not at all, and a batch holding an already
        claimed payment falls back to the one-by-one path.
        """
        if len(claims) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} payments per reward transaction")
        created = self._clock()
        rows = [self._entry(c, created) for c in claims]
        paid = [r for r in rows if r["units"]]
        tx = None
        if paid:  # one mint of the total, one memo naming every payment
            tx = await self._tx(self._mint_ixs(",".join(r["payment_id"] for r in paid),
                                               sum(r["units"] for r in paid)))
            for r in paid:
                r.update(pending_sig=_sig(tx), pending_tx=bytes(tx))
        if not await self.ledger.claim_many(rows):
            return [await self.reward_payment(*c) for c in claims]
        if tx is None:
            return [_record(r) for r in rows]
        try:
            await self.backend.send(tx)
            outcome = await confirm(self.backend, _sig(tx), self.config.confirm_timeout_s)
        except ChainError as exc:
            raise RewardError(f"batch reward transaction not confirmed: {exc.kind}") from None
        if outcome.state != "unknown":
            ok = outcome.state == "confirmed"
            await self.ledger.settle_batch(_sig(tx), "minting", pending_sig=None, pending_tx=None,
                                           **({"state": "escrowed", "mint_sig": outcome.signature}
                                              if ok else {"state": "failed"}))
        return [_record(r) for r in await self.ledger.many([r["payment_id"] for r in rows])]

    def _entry(self, c: RewardClaim, created: float) -> dict:
        units = reward_units(c.amount_minor, c.currency, self.config)
        return {"payment_id": c.payment_id, "owner": c.owner, "amount_minor": c.amount_minor,
                "units": units, "clawed_units": 0, "state": "minting" if units else "nothing",
                "pending_sig": None, "pending_tx": None, "pending_units": 0, "mint_sig": None,
                "release_sig": None, "created_at": created,
                "release_after": created + self.config.refund_window_s}

    async def _retry_mint(self, row: dict) -> RewardRecord:
        """A failed mint minted nothing, so a later replay may try again with a fresh tx."""
        tx = await self._tx(self._mint_ixs(row["payment_id"], row["units"]))
        if not await self.ledger.transition(row["payment_id"], "failed", state="minting", pending_sig=_sig(tx),
                                      pending_tx=bytes(tx)):
            return await self._settled(await self.ledger.must(row["payment_id"]))
        return await self._run(row["payment_id"], "minting", tx)

    async def on_refund(self, payment_id: str, refunded_minor: int, owner: str = "") -> RewardRecord:
        """Claw back the refunded share of an escrowed reward; cancel one not minted yet.

        `refunded_minor` is the payment's total refunded so far, so replayed refund
        events claw back nothing more. Rewards already released are left alone.
        """
        row = await self.ledger.get(payment_id)
        if row is None:
            await self.ledger.claim(payment_id=payment_id, owner=owner, amount_minor=0, units=0, state="canceled",
                              created_at=self._clock(), release_after=self._clock())
            return _record(await self.ledger.must(payment_id))
        row = await self.ledger.must((await self._settled(row)).payment_id)
        original = row["units"] + row["clawed_units"]
        delta = clawback_target(original, refunded_minor, row["amount_minor"]) - row["clawed_units"]
        if row["state"] != "escrowed" or delta <= 0:
            return _record(row)
        tx = await self._tx([spl.burn_ix(self.config.mint, self._authority.pubkey(), delta, self.config.decimals),
                             self._memo("clawback", f"{payment_id}:{refunded_minor}")])
        if not await self.ledger.transition(payment_id, "escrowed", state="clawing", pending_sig=_sig(tx),
                                      pending_tx=bytes(tx), pending_units=delta):
            return _record(await self.ledger.must(payment_id))
        return await self._run(payment_id, "clawing", tx)

    async def release_due(self) -> list[RewardRecord]:
        """Move every reward whose refund window has passed from escrow to its owner."""
        released = []
        for row in await self.ledger.due(self._clock()):
            owner = Pubkey.from_string(row["owner"])
            ixs = [spl.ensure_ata_ix(self._authority.pubkey(), owner, self.config.mint),
                   spl.token_transfer_ix(self.config.mint, self._authority.pubkey(), owner, row["units"],
                                         self.config.decimals),
                   self._memo("release", row["payment_id"])]
            tx = await self._tx(ixs)
            if await self.ledger.transition(row["payment_id"], "escrowed", state="releasing", pending_sig=_sig(tx),
                                      pending_tx=bytes(tx)):
                released.append(await self._run(row["payment_id"], "releasing", tx))
                self._balances.pop(row["owner"], None)
        return released

    async def balance(self, owner: str) -> int:
        """Released tokens (base units) in the owner's wallet; cached for `balance_ttl_s`."""
        cached = self._balances.get(owner)
        if cached and cached[0] > self._clock():
            return cached[1]
        value = await spl.token_balance(self.backend, Pubkey.from_string(owner), self.config.mint)
        self._balances[owner] = (self._clock() + self.config.balance_ttl_s, value)
        return value

    async def escrowed(self, owner: str) -> int:
        """Units still in escrow for the owner."""
        return await self.ledger.escrowed_units(owner)

    async def settle_pending(self) -> int:
        """Resolve entries left pending by a crash or timeout; returns how many settled."""
        settled = 0
        for row in await self.ledger.pending():
            before = row["state"]
            settled += (await self._settled(row)).state != before
        return settled

    async def aclose(self) -> None:
        """Close the chain back-end and the book's connections (on shutdown)."""
        await self.backend.aclose()
        await self.ledger.aclose()

    # --- internals -----------------------------------------------------------------

    def _mint_ixs(self, payment_ids: str, units: int) -> list[Instruction]:
        """Mint `units` into escrow, with a memo naming the payment(s) (comma-joined)."""
        me = self._authority.pubkey()
        return [spl.mint_ix(self.config.mint, me, me, units, self.config.decimals), self._memo("reward", payment_ids)]

    def _memo(self, op: str, ref: str) -> Instruction:
        return spl.memo_ix(self._authority.pubkey(), f"smartreward:{op}:{ref}")

    async def _tx(self, ixs: list[Instruction]) -> VersionedTransaction:
        try:
            blockhash = await self.backend.latest_blockhash()
        except ChainError as exc:
            raise RewardError(f"chain unavailable: {exc.kind}") from None
        return spl.build_tx(ixs, self._authority, [], blockhash)

    async def _run(self, payment_id: str, state: str, tx: VersionedTransaction,
                   row: dict | None = None) -> RewardRecord:
        """Send and confirm `tx`, then settle it; `row` is the entry as just written by
        this call, if the caller has it (saves reading it back)."""
        try:
            await self.backend.send(tx)
            outcome = await confirm(self.backend, str(tx.signatures[0]), self.config.confirm_timeout_s)
        except ChainError as exc:
            raise RewardError(f"reward transaction for {payment_id} not confirmed: {exc.kind}") from None
        written = await self._apply(row or await self.ledger.must(payment_id), outcome)
        return _record(written if written is not None else await self.ledger.must(payment_id))

    async def _settled(self, row: dict) -> RewardRecord:
        """The entry with any pending transaction settled (re-broadcast while valid)."""
        if row["pending_sig"]:
            try:
                outcome = await self.backend.status(row["pending_sig"])
                if outcome.state == "unknown" and self._clock() - row["created_at"] < self.config.expiry_s:
                    await self.backend.send(VersionedTransaction.from_bytes(row["pending_tx"]))
                    outcome = await confirm(self.backend, row["pending_sig"], self.config.confirm_timeout_s)
            except ChainError:
                return _record(row)
            await self._apply(row, outcome)
        return _record(await self.ledger.must(row["payment_id"]))

    async def _apply(self, row: dict, outcome: TxOutcome) -> dict | None:
        """Write a pending transaction's outcome into the ledger; the entry as written,
        or None when nothing was (outcome unknown, or another call settled it first)."""
        if outcome.state == "unknown":
            return None
        ok, state = outcome.state == "confirmed", row["state"]
        clear = {"pending_sig": None, "pending_tx": None, "pending_units": 0}
        if state == "minting":
            values = {"state": "escrowed", "mint_sig": outcome.signature} if ok else {"state": "failed"}
        elif state == "releasing":
            values = {"state": "released", "release_sig": outcome.signature} if ok else {"state": "escrowed"}
        elif state == "clawing" and ok:
            units, clawed = row["units"] - row["pending_units"], row["clawed_units"] + row["pending_units"]
            values = {"state": "escrowed" if units else "clawed_back", "units": units, "clawed_units": clawed}
        else:
            values = {"state": "escrowed"}
        # Guarded by the signature: a stale snapshot must not settle a newer attempt.
        if await self.ledger.transition(row["payment_id"], state, pending_of=outcome.signature, **clear, **values):
            return {**row, **clear, **values}
        return None


def _sig(tx: VersionedTransaction | None) -> str | None:
    return str(tx.signatures[0]) if tx is not None else None


def _record(row: dict) -> RewardRecord:
    return RewardRecord(**{k: row[k] for k in RewardRecord.model_fields})
