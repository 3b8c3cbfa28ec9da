"""Stateless Solana gateway adapter: payments as SPL-token or SOL transfers.

authorize(capture) moves funds payer -> merchant; authorize(no capture) moves them
payer -> escrow (a hold wallet SmartPay controls); capture moves escrow -> merchant
and returns any remainder; void returns the escrow; refunds go merchant -> payer.
SmartPay pays the fees (the merchant wallet is fee payer). Payer wallets are
custodial: `wallets` maps a payer address to its signing keypair.

Every operation's signature is booked in the `Ledger` before it is sent, so a
timeout is resolved by `sync`, which asks the chain about that exact signature.
The same code runs on LiteSVM and on RPC: only the `ChainBackend` differs.
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from integrations.gateways.base import (
    AuthorizeRequest,
    ErrorKind,
    GatewayError,
    PaymentResult,
    RefundResult,
    invalid,
)
from integrations.gateways.solana import spl
from integrations.gateways.solana import transformers as tf
from integrations.gateways.solana.chain import ChainBackend, ChainError, TxOutcome, confirm
from integrations.gateways.solana.ledger import Ledger

_CAPTURED = {"captured", "partially_refunded", "refunded"}


class SolanaAdapter:
    """Authorize, capture, void, refund and sync over a Solana back-end."""

    name = tf.NAME

    def __init__(
        self, backend: ChainBackend, ledger: Ledger, *, merchant: Keypair, escrow: Keypair,
        asset: tf.SolanaAsset, wallets: Callable[[str], Keypair | None], currency: str = "USD",
        confirm_timeout_s: float = 10.0, expiry_s: float = 120.0,
    ) -> None:
        self.backend, self.ledger, self.asset = backend, ledger, asset
        self._merchant, self._escrow, self._wallets = merchant, escrow, wallets
        self.currency, self._confirm_s, self._expiry_s = currency, confirm_timeout_s, expiry_s

    async def authorize(self, req: AuthorizeRequest) -> PaymentResult:
        """Transfer payer -> merchant (capture) or payer -> escrow (authorize only)."""
        if req.currency != self.currency:
            raise invalid(self.name, f"currency {req.currency} (this gateway settles {self.currency})", "currency")
        payer = self._wallets(req.payment_method)
        if payer is None:
            raise invalid(self.name, f"no custodial wallet {req.payment_method}", "unknown_wallet")
        if (row := await self.ledger.get(req.payment_id)) is not None:
            return await self._refresh(row)  # a replay never pays twice
        dst = self._merchant if req.capture else self._escrow
        ixs = [tf.transfer_ix(self.asset, payer.pubkey(), dst.pubkey(), req.amount_minor),
               self._memo("authorize", req.payment_id)]
        tx = await self._tx(ixs, [payer])
        sig = str(tx.signatures[0])
        booked = await self.ledger.insert_payment(
            payment_id=req.payment_id, gateway_ref=sig, payer=str(payer.pubkey()),
            amount_minor=req.amount_minor, currency=req.currency, capture_mode=req.capture,
            status="pending", pending_op="authorize", pending_sig=sig, pending_tx=bytes(tx),
            pending_amount=req.amount_minor)
        if not booked:
            return await self._refresh(await self.ledger.must(req.payment_id))
        return await self._execute(req.payment_id, tx)

    async def capture(self, gateway_ref: str, amount_minor: int | None = None, *, payment_id: str) -> PaymentResult:
        """Escrow -> merchant for the captured amount; the rest goes back to the payer."""
        row = await self._row(payment_id, gateway_ref)
        amount = row["amount_minor"] if amount_minor is None else amount_minor
        if not 0 < amount <= row["amount_minor"]:
            raise invalid(self.name, f"capture {amount} of {row['amount_minor']}", "amount_invalid")
        ixs = [tf.transfer_ix(self.asset, self._escrow.pubkey(), self._merchant.pubkey(), amount),
               self._memo("capture", row["payment_id"])]
        if amount < row["amount_minor"]:
            ixs.append(tf.transfer_ix(self.asset, self._escrow.pubkey(), _pk(row["payer"]), row["amount_minor"] - amount))
        return await self._claimed(row, "capture", ixs, amount)

    async def void(self, gateway_ref: str, *, payment_id: str) -> PaymentResult:
        """Return the escrowed funds to the payer."""
        row = await self._row(payment_id, gateway_ref)
        ixs = [tf.transfer_ix(self.asset, self._escrow.pubkey(), _pk(row["payer"]), row["amount_minor"]),
               self._memo("void", row["payment_id"])]
        return await self._claimed(row, "void", ixs, 0)

    async def refund(self, gateway_ref: str, amount_minor: int | None = None, *, refund_id: str) -> RefundResult:
        """Merchant -> payer, at most what was captured and not refunded yet."""
        row = await self._row(None, gateway_ref)
        if (done := await self.ledger.get_refund(refund_id)) is not None:
            return tf.to_refund(done, gateway_ref)
        if row["status"] not in _CAPTURED:
            raise invalid(self.name, f"payment is {row['status']}, not captured", "not_captured")
        amount = row["captured_minor"] - row["refunded_minor"] if amount_minor is None else amount_minor
        ix = tf.transfer_ix(self.asset, self._merchant.pubkey(), _pk(row["payer"]), amount)
        tx = await self._tx([ix, self._memo("refund", refund_id)], [])
        sig = str(tx.signatures[0])
        if amount <= 0 or not await self.ledger.reserve_refund(refund_id, row["payment_id"], amount, sig):
            left = row["captured_minor"] - row["refunded_minor"]
            raise invalid(self.name, f"refund {amount} exceeds refundable {left}", "amount_too_large")
        outcome = await self._send_and_confirm(tx, on_unsent=lambda: self.ledger.finish_refund(refund_id, False))
        if outcome.state == "unknown":
            raise GatewayError(self.name, ErrorKind.TIMEOUT, "refund not confirmed in time", gateway_ref=sig)
        await self.ledger.finish_refund(refund_id, outcome.state == "confirmed")
        if outcome.state == "failed":
            raise tf.classify_tx_error(outcome.err, sig)
        return tf.to_refund(await self.ledger.get_refund(refund_id) or {}, gateway_ref)

    async def sync(self, payment_id: str, gateway_ref: str | None = None) -> PaymentResult | None:
        """The booked payment, with any pending operation settled from the chain."""
        row = await self.ledger.get(payment_id) if payment_id else None
        row = row or (await self.ledger.get(gateway_ref=gateway_ref) if gateway_ref else None)
        return await self._refresh(row) if row else None

    async def aclose(self) -> None:
        """Close the back-end and the book's connections."""
        await self.backend.aclose()
        await self.ledger.aclose()

    # --- internals -----------------------------------------------------------------

    def _memo(self, op: str, ref: str) -> Instruction:
        return spl.memo_ix(self._merchant.pubkey(), f"smartpay:{op}:{ref}")

    async def _row(self, payment_id: str | None, gateway_ref: str) -> dict:
        row = await (self.ledger.get(payment_id) if payment_id else self.ledger.get(gateway_ref=gateway_ref))
        if row is None:
            raise invalid(self.name, f"unknown payment {payment_id or gateway_ref}", "unknown_payment")
        return row

    async def _tx(self, ixs: list[Instruction], signers: list[Keypair]) -> VersionedTransaction:
        try:
            blockhash = await self.backend.latest_blockhash()
        except ChainError as exc:  # nothing was sent yet
            raise tf.classify_chain_error(ChainError(exc.kind, str(exc), sent=False), "") from None
        return spl.build_tx(ixs, self._merchant, [*signers, self._escrow], blockhash)

    async def _claimed(self, row: dict, op: str, ixs: list[Instruction], amount: int) -> PaymentResult:
        tx = await self._tx(ixs, [])
        if not await self.ledger.claim(row["payment_id"], {"authorized"}, op, bytes(tx), str(tx.signatures[0]), amount):
            raise invalid(self.name, f"cannot {op}: payment is {row['status']} ({row['pending_op'] or 'idle'})",
                          "invalid_state")
        return await self._execute(row["payment_id"], tx)

    async def _execute(self, payment_id: str, tx: VersionedTransaction) -> PaymentResult:
        """Send a booked operation and settle it; raise on decline or timeout."""
        op, sig = (await self.ledger.must(payment_id))["pending_op"], str(tx.signatures[0])
        outcome = await self._send_and_confirm(tx, on_unsent=lambda: self.ledger.abandon(payment_id, op, sig))
        if outcome.state == "unknown":
            raise GatewayError(self.name, ErrorKind.TIMEOUT, f"{op} not confirmed in time", gateway_ref=outcome.signature)
        await self._apply(await self.ledger.must(payment_id), outcome)
        if outcome.state == "failed":
            raise tf.classify_tx_error(outcome.err, outcome.signature)
        return tf.to_result(await self.ledger.must(payment_id))

    async def _send_and_confirm(self, tx: VersionedTransaction,
                                on_unsent: Callable[[], Awaitable[None]]) -> TxOutcome:
        sig = str(tx.signatures[0])
        try:
            await self.backend.send(tx)
            return await confirm(self.backend, sig, self._confirm_s)
        except ChainError as exc:
            if not exc.sent:
                await on_unsent()
            raise tf.classify_chain_error(exc, sig) from None

    async def _apply(self, row: dict, outcome: TxOutcome) -> None:
        """Write a pending operation's final outcome into the ledger."""
        op, sig = row["pending_op"], row["pending_sig"]
        if outcome.state == "confirmed":
            values = _SUCCESS[op](row)
        elif op == "authorize":
            values = {"status": "failed", "decline_code": tf.error_code(outcome.err)}
        else:
            values = {}
        await self.ledger.settle(row["payment_id"], sig, **values)

    async def _refresh(self, row: dict) -> PaymentResult:
        """Settle pending work from the chain; re-broadcast a pending, unexpired tx.

        Re-broadcasting the identical signed bytes is safe: a signature lands at most once.
        """
        try:
            if row["pending_op"]:
                outcome = await self._pending_outcome(row)
                if outcome.state != "unknown":
                    await self._apply(row, outcome)
            for refund in await self.ledger.pending_refunds(row["payment_id"]):
                outcome = await self.backend.status(refund["signature"])
                if outcome.state != "unknown":
                    await self.ledger.finish_refund(refund["refund_id"], outcome.state == "confirmed")
        except ChainError as exc:
            raise tf.classify_chain_error(exc, row["gateway_ref"]) from None
        return tf.to_result(await self.ledger.must(row["payment_id"]))

    async def _pending_outcome(self, row: dict) -> TxOutcome:
        outcome = await self.backend.status(row["pending_sig"])
        if outcome.state != "unknown":
            return outcome
        if time.time() - row["pending_since"] > self._expiry_s:
            return TxOutcome(outcome.signature, "failed", "BlockhashExpired")
        if row["pending_tx"]:
            await self.backend.send(VersionedTransaction.from_bytes(row["pending_tx"]))
            return await confirm(self.backend, row["pending_sig"], self._confirm_s)
        return outcome


_SUCCESS = {
    "authorize": lambda r: {"status": "captured" if r["capture_mode"] else "authorized",
                            "captured_minor": r["amount_minor"] if r["capture_mode"] else 0},
    "capture": lambda r: {"status": "captured", "captured_minor": r["pending_amount"]},
    "void": lambda r: {"status": "voided"},
}


def _pk(address: str):
    from solders.pubkey import Pubkey

    return Pubkey.from_string(address)

