"""Two interchangeable Solana back-ends behind one small async interface.

`LiteSvmBackend` runs LiteSVM (inside `solders`) in process: the default, nothing to
start. `RpcBackend` talks JSON-RPC through `solana` 0.41's AsyncClient to devnet,
mainnet or the local RPC stand-in. Transactions are built and signed by the callers
(gateway adapter, rewards) identically for both; back-ends only move bytes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction


class ChainError(Exception):
    """The chain (or the way to it) failed; `kind` is timeout, network or rpc."""

    def __init__(self, kind: str, message: str, sent: bool = True) -> None:
        self.kind, self.sent = kind, sent
        super().__init__(message)


@dataclass(frozen=True)
class TxOutcome:
    """What the chain says about one signature."""

    signature: str
    state: str  # "confirmed" | "failed" | "unknown"
    err: object | None = None


class ChainBackend(Protocol):
    """What the adapter and the reward service need from a chain."""

    async def latest_blockhash(self) -> Hash: ...
    async def send(self, tx: VersionedTransaction) -> str: ...
    async def status(self, signature: str) -> TxOutcome: ...
    async def account_data(self, pubkey: Pubkey) -> bytes | None: ...
    async def lamports(self, pubkey: Pubkey) -> int: ...
    async def rent_exempt(self, size: int) -> int: ...
    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None: ...
    async def aclose(self) -> None: ...


class LiteSvmBackend:
    """LiteSVM in process; thread-safe; remembers each signature's first outcome."""

    def __init__(self, svm=None) -> None:
        from solders.litesvm import LiteSVM

        self.svm = svm or LiteSVM()
        self._lock = threading.RLock()
        self._outcomes: dict[str, TxOutcome] = {}

    async def latest_blockhash(self) -> Hash:
        """The current blockhash."""
        with self._lock:
            return self.svm.latest_blockhash()

    async def send(self, tx: VersionedTransaction) -> str:
        """Execute now; a replay keeps the first outcome (LiteSVM says AlreadyProcessed)."""
        return self.send_sync(tx)

    def send_sync(self, tx: VersionedTransaction) -> str:
        """Synchronous send, for set-up code and benchmarks."""
        sig = str(tx.signatures[0])
        with self._lock:
            res = self.svm.send_transaction(tx)
            if sig not in self._outcomes:
                err = res.err() if hasattr(res, "err") else None
                self._outcomes[sig] = TxOutcome(sig, "failed" if err else "confirmed", err)
        return sig

    async def status(self, signature: str) -> TxOutcome:
        """The recorded outcome, or unknown."""
        return self._outcomes.get(signature, TxOutcome(signature, "unknown"))

    async def account_data(self, pubkey: Pubkey) -> bytes | None:
        """Raw account data, None when the account does not exist."""
        with self._lock:
            acc = self.svm.get_account(pubkey)
        return bytes(acc.data) if acc is not None and acc.lamports > 0 else None

    async def lamports(self, pubkey: Pubkey) -> int:
        """SOL balance in lamports."""
        with self._lock:
            return self.svm.get_balance(pubkey) or 0

    async def rent_exempt(self, size: int) -> int:
        """Lamports for a rent-exempt account of `size` bytes."""
        return self.svm.minimum_balance_for_rent_exemption(size)

    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None:
        """Credit lamports (local chain only)."""
        with self._lock:
            self.svm.airdrop(pubkey, lamports)

    async def aclose(self) -> None:
        """Nothing to close."""


class RpcBackend:
    """JSON-RPC through solana-py's AsyncClient (devnet, mainnet or the stand-in)."""

    def __init__(self, url: str, timeout_s: float = 10.0, blockhash_reuse_s: float = 0.0) -> None:
        from solana.rpc.async_api import AsyncClient

        self._client = AsyncClient(url, timeout=timeout_s, http2=False, max_transport_retries=0)
        self._reuse_s, self._blockhash = blockhash_reuse_s, (0.0, None)

    async def latest_blockhash(self) -> Hash:
        """The cluster's latest blockhash, reused for `blockhash_reuse_s` when set: a
        blockhash stays valid for about a minute (150 slots), and under load fetching
        one per reward mint was a third of its round trips and CPU. Off by default: a
        payment transaction built while the node is unreachable would otherwise be
        signed and kept for re-broadcast instead of failing before anything exists."""
        at, cached = self._blockhash
        now = time.monotonic()
        if cached is not None and now - at < self._reuse_s:
            return cached
        fresh = (await self._rpc(self._client.get_latest_blockhash())).value.blockhash
        self._blockhash = (now, fresh)
        return fresh

    async def send(self, tx: VersionedTransaction) -> str:
        """Submit without preflight; the outcome is read with `status`."""
        from solana.rpc.models import TxOpts

        resp = await self._rpc(self._client.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True)))
        return str(resp.value)

    async def status(self, signature: str) -> TxOutcome:
        """Confirmed/finalized, failed, or unknown (not seen / not confirmed yet)."""
        resp = await self._rpc(self._client.get_signature_statuses([Signature.from_string(signature)]))
        st = resp.value[0]
        if st is None:
            return TxOutcome(signature, "unknown")
        if st.err is not None:
            return TxOutcome(signature, "failed", st.err)
        level = str(st.confirmation_status or "").lower()
        done = level.endswith(("confirmed", "finalized"))
        return TxOutcome(signature, "confirmed" if done else "unknown")

    async def account_data(self, pubkey: Pubkey) -> bytes | None:
        """Raw account data, None when the account does not exist."""
        value = (await self._rpc(self._client.get_account_info(pubkey))).value
        return bytes(value.data) if value is not None else None

    async def lamports(self, pubkey: Pubkey) -> int:
        """SOL balance in lamports."""
        return (await self._rpc(self._client.get_balance(pubkey))).value

    async def rent_exempt(self, size: int) -> int:
        """Lamports for a rent-exempt account of `size` bytes."""
        return (await self._rpc(self._client.get_minimum_balance_for_rent_exemption(size))).value

    async def airdrop(self, pubkey: Pubkey, lamports: int) -> None:
        """Request an airdrop (devnet / stand-in) and wait for it."""
        sig = str((await self._rpc(self._client.request_airdrop(pubkey, lamports))).value)
        await confirm(self, sig, timeout_s=30)

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._client.close()

    @staticmethod
    async def _rpc(awaitable):
        """Await a client call; transport and RPC failures become ChainError."""
        from solana.exceptions import SolanaRpcException
        from solana.rpc.core import RPCException

        try:
            return await awaitable
        except SolanaRpcException as exc:
            raise _transport_error(exc.__cause__ or exc) from None
        except RPCException as exc:
            raise ChainError("rpc", f"rpc error: {type(exc).__name__}") from None


def _transport_error(cause: BaseException) -> ChainError:
    name = type(cause).__name__
    if "Connect" in name:
        return ChainError("network", name, sent=False)
    if "Timeout" in name:
        return ChainError("timeout", name)
    status = getattr(getattr(cause, "response", None), "status_code", None)
    if status is not None:
        return ChainError("rpc", f"http {status}")
    return ChainError("network", name)


async def confirm(backend: ChainBackend, signature: str, timeout_s: float = 10.0,
                  poll_s: float = 0.05) -> TxOutcome:
    """Poll until the signature is confirmed or failed; 'unknown' after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = await backend.status(signature)
        if outcome.state != "unknown" or time.monotonic() >= deadline:
            return outcome
        await asyncio.sleep(poll_s)
