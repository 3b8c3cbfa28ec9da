"""A small Solana JSON-RPC server over LiteSVM, to exercise the RPC path locally.

No local validator exists on PyPI, so this serves the methods our RpcBackend and
the rewards service use (getLatestBlockhash, sendTransaction, getSignatureStatuses,
getBalance, getAccountInfo, getMinimumBalanceForRentExemption, requestAirdrop,
getHealth), encoding answers with solders' own response types so solana-py parses
them exactly as it parses a real node's.

    with run_solana_rpc() as url:
        backend = RpcBackend(url)
"""

from __future__ import annotations

import base64
import json
from contextlib import contextmanager
from typing import Iterator

from solders.account import Account
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetMinimumBalanceForRentExemptionResp,
    GetSignatureStatusesResp,
    RequestAirdropResp,
    RpcBlockhash,
    RpcResponseContext,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations.gateways.solana.chain import LiteSvmBackend, TxOutcome
from integrations.gateways.standin import serve_asgi


class RpcStandin:
    """JSON-RPC method handlers over one LiteSVM back-end."""

    def __init__(self, backend: LiteSvmBackend | None = None) -> None:
        self.chain = backend or LiteSvmBackend()

    def _ctx(self) -> RpcResponseContext:
        return RpcResponseContext(self.chain.svm.get_clock().slot)

    def getHealth(self, params: list) -> str:  # noqa: N802 (JSON-RPC names)
        return "ok"

    def getLatestBlockhash(self, params: list):  # noqa: N802
        block = RpcBlockhash(self.chain.svm.latest_blockhash(), 10**9)
        return GetLatestBlockhashResp(block, self._ctx())

    def sendTransaction(self, params: list):  # noqa: N802
        tx = VersionedTransaction.from_bytes(base64.b64decode(params[0]))
        return SendTransactionResp(Signature.from_string(self.chain.send_sync(tx)))

    def getSignatureStatuses(self, params: list):  # noqa: N802
        return GetSignatureStatusesResp([self._status(s) for s in params[0]], self._ctx())

    def _status(self, sig: str) -> TransactionStatus | None:
        outcome = self.chain._outcomes.get(sig)
        if outcome is None:
            return None
        return TransactionStatus(self._ctx().slot, None, None, outcome.err,
                                 TransactionConfirmationStatus.Finalized)

    def getBalance(self, params: list):  # noqa: N802
        value = self.chain.svm.get_balance(Pubkey.from_string(params[0])) or 0
        return GetBalanceResp(value, self._ctx())

    def getAccountInfo(self, params: list):  # noqa: N802
        acc = self.chain.svm.get_account(Pubkey.from_string(params[0]))
        if acc is not None and acc.lamports == 0:
            acc = None
        value = Account(acc.lamports, bytes(acc.data), acc.owner, acc.executable, acc.rent_epoch) if acc else None
        return GetAccountInfoResp(value, self._ctx())

    def getMinimumBalanceForRentExemption(self, params: list):  # noqa: N802
        return GetMinimumBalanceForRentExemptionResp(self.chain.svm.minimum_balance_for_rent_exemption(params[0]))

    def requestAirdrop(self, params: list):  # noqa: N802
        res = self.chain.svm.airdrop(Pubkey.from_string(params[0]), params[1])
        sig = str(res.signature())
        self.chain._outcomes[sig] = TxOutcome(sig, "confirmed")
        return RequestAirdropResp(Signature.from_string(sig))

    def handle(self, request: dict) -> dict:
        """One JSON-RPC request -> one JSON-RPC response."""
        rid, method = request.get("id"), request.get("method", "")
        fn = getattr(self, method, None) if method[:1].islower() and not method.startswith("_") else None
        if fn is None or method == "handle":
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"Method not found: {method}"}}
        try:
            with self.chain._lock:
                value = fn(request.get("params") or [])
        except Exception as exc:  # noqa: BLE001 - any bad input becomes a JSON-RPC error
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": f"Invalid params: {exc}"}}
        result = value if isinstance(value, str) else json.loads(value.to_json())["result"]
        return {"jsonrpc": "2.0", "id": rid, "result": result}


def build_app(standin: RpcStandin | None = None) -> Starlette:
    """The ASGI app serving JSON-RPC at '/'."""
    rpc = standin or RpcStandin()

    async def endpoint(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        if isinstance(body, list):
            return JSONResponse([rpc.handle(r) for r in body])
        return JSONResponse(rpc.handle(body))

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


@contextmanager
def run_solana_rpc(standin: RpcStandin | None = None) -> Iterator[str]:
    """Serve the stand-in on a free 127.0.0.1 port; yield its RPC URL."""
    with serve_asgi(build_app(standin), name="solana-rpc-standin") as url:
        yield url
