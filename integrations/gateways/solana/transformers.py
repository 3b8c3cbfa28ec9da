"""Pure conversions for the Solana gateway: amounts, transfer instructions, errors, results."""

from __future__ import annotations

from dataclasses import dataclass

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from integrations.gateways.base import (
    ErrorKind,
    GatewayError,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
    refund_status_for,
)
from integrations.gateways.solana import spl
from integrations.gateways.solana.chain import ChainError

NAME = "solana"
# Custom program error 1 is "insufficient funds" for both the token and system programs.
_CUSTOM = {1: "insufficient_funds", 3: "mint_mismatch", 4: "owner_mismatch", 17: "account_frozen"}
_HARD_FIELDLESS = {"AccountNotFound", "InsufficientFundsForFee", "InvalidAccountForFee"}
_RETRY_FIELDLESS = {"BlockhashNotFound", "AlreadyProcessed", "ClusterMaintenance", "AccountInUse"}


@dataclass(frozen=True)
class SolanaAsset:
    """What a payment moves: an SPL token (stablecoin-like) or SOL."""

    kind: str  # "spl" | "sol"
    units_per_minor: int  # base units (token units or lamports) per currency minor unit
    mint: Pubkey | None = None
    decimals: int = 6

    @property
    def mint_address(self) -> Pubkey:
        """The SPL mint (an SOL asset has none)."""
        if self.mint is None:
            raise ValueError("a SOL asset has no mint")
        return self.mint

    def units(self, amount_minor: int) -> int:
        """On-chain base units for an amount in minor units."""
        return amount_minor * self.units_per_minor


def transfer_ix(asset: SolanaAsset, src: Pubkey, dst: Pubkey, amount_minor: int) -> Instruction:
    """A transfer of `amount_minor` worth of the asset between two owners."""
    units = asset.units(amount_minor)
    if asset.kind == "sol":
        return spl.sol_transfer_ix(src, dst, units)
    return spl.token_transfer_ix(asset.mint_address, src, dst, units, asset.decimals)


def error_code(err: object) -> str:
    """A stable code for a solders transaction error."""
    inner = getattr(err, "err", None)
    if inner is not None:  # InstructionError(index, inner)
        code = getattr(inner, "code", None)
        if code is not None:
            return _CUSTOM.get(code, f"custom_{code}")
        return str(inner).rsplit(".", 1)[-1]
    return str(err).rsplit(".", 1)[-1]


def classify_tx_error(err: object, signature: str) -> GatewayError:
    """A failed transaction -> decline or gateway error."""
    code = error_code(err)
    if code in _RETRY_FIELDLESS:
        kind = ErrorKind.GATEWAY
    elif code in _CUSTOM.values() or code in _HARD_FIELDLESS or code.startswith("custom_"):
        kind = ErrorKind.HARD_DECLINE
    else:
        kind = ErrorKind.HARD_DECLINE if "Account" in code else ErrorKind.GATEWAY
    return GatewayError(NAME, kind, f"transaction failed: {code}", code=code, gateway_ref=signature)


def classify_chain_error(exc: ChainError, signature: str) -> GatewayError:
    """Transport / RPC failure -> TIMEOUT, NETWORK or GATEWAY."""
    kind = {"timeout": ErrorKind.TIMEOUT, "network": ErrorKind.NETWORK}.get(exc.kind, ErrorKind.GATEWAY)
    return GatewayError(NAME, kind, str(exc), code=exc.kind, gateway_ref=signature, sent=exc.sent)


def to_result(row: dict) -> PaymentResult:
    """A ledger row -> PaymentResult."""
    status = PaymentStatus(row["status"])
    if status == PaymentStatus.CAPTURED or status in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        status = refund_status_for(row["captured_minor"], row["refunded_minor"])
    return PaymentResult(
        gateway=NAME, payment_id=row["payment_id"], gateway_ref=row["gateway_ref"], status=status,
        amount_minor=row["amount_minor"], currency=row["currency"], captured_minor=row["captured_minor"],
        refunded_minor=row["refunded_minor"], gateway_status=row["pending_op"] or row["status"],
        decline_code=row["decline_code"],
    )


def to_refund(row: dict, gateway_ref: str) -> RefundResult:
    """A refund ledger row -> RefundResult."""
    return RefundResult(
        gateway=NAME, gateway_ref=gateway_ref, refund_ref=row["signature"], refund_id=row["refund_id"],
        amount_minor=row["amount_minor"], status=RefundStatus(row["status"]), gateway_status=row["status"],
    )
