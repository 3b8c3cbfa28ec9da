"""A small Solana JSON-RPC node over LiteSVM, to exercise the RPC path locally.

No local validator exists on PyPI, so this serves what RpcBackend, the Solana
adapter, the rewards service and the set-up helpers send (see `METHODS`), encoding
answers with solders' own response types so solana-py parses them exactly as it
parses a real node's. A harness runs it in its own process and hands other
processes the URL; with a `state_file` it saves its accounts and signature outcomes
on stop and restores them on start, so a restarted harness keeps balances.

    with run_solana_rpc(port=0, state_file=data / "chain.json") as url:
        backend = RpcBackend(url)

    node = SolanaRpcServer(port=8899).start()   # or explicitly: start() ... stop()
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from solders.account import Account
from solders.account_decoder import UiTokenAmount
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetMinimumBalanceForRentExemptionResp,
    GetSignatureStatusesResp,
    GetSlotResp,
    GetTokenAccountBalanceResp,
    GetTokenSupplyResp,
    GetVersionResp,
    RequestAirdropResp,
    RpcBlockhash,
    RpcResponseContext,
    RpcVersionInfo,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.token.state import Mint, TokenAccount
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.gateways.solana import standin_state
from integrations.gateways.solana.chain import LiteSvmBackend, TxOutcome

METHODS = frozenset({
    "getHealth", "getVersion", "getSlot", "getLatestBlockhash", "sendTransaction", "getSignatureStatuses",
    "getBalance", "getAccountInfo", "getTokenAccountBalance", "getTokenSupply",
    "getMinimumBalanceForRentExemption", "requestAirdrop",
})


class RpcStandin:
    """JSON-RPC method handlers over one LiteSVM back-end."""

    def __init__(self, backend: LiteSvmBackend | None = None) -> None:
        self.chain = backend or LiteSvmBackend()

    def _ctx(self) -> RpcResponseContext:
        return RpcResponseContext(self.chain.svm.get_clock().slot)

    def getHealth(self, params: list) -> str:  # noqa: N802 (JSON-RPC names)
        return "ok"

    def getVersion(self, params: list):  # noqa: N802
        return GetVersionResp(RpcVersionInfo("2.1.0-litesvm-standin", None))

    def getSlot(self, params: list):  # noqa: N802
        return GetSlotResp(self._ctx().slot)

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
        return GetAccountInfoResp(self._account(params[0]), self._ctx())

    def _account(self, address: str) -> Account | None:
        acc = self.chain.svm.get_account(Pubkey.from_string(address))
        if acc is None or acc.lamports == 0:
            return None
        return Account(acc.lamports, bytes(acc.data), acc.owner, acc.executable, acc.rent_epoch)

    def getTokenAccountBalance(self, params: list):  # noqa: N802
        acc = self._account(params[0])
        if acc is None:
            raise ValueError(f"could not find account {params[0]}")
        token = TokenAccount.from_bytes(bytes(acc.data))
        return GetTokenAccountBalanceResp(self._ui_amount(token.amount, token.mint), self._ctx())

    def getTokenSupply(self, params: list):  # noqa: N802
        acc = self._account(params[0])
        if acc is None:
            raise ValueError(f"could not find mint {params[0]}")
        return GetTokenSupplyResp(self._ui_amount(Mint.from_bytes(bytes(acc.data)).supply,
                                                  Pubkey.from_string(params[0])), self._ctx())

    def _ui_amount(self, amount: int, mint: Pubkey) -> UiTokenAmount:
        decimals = Mint.from_bytes(bytes(self.chain.svm.get_account(mint).data)).decimals
        whole, frac = divmod(amount, 10**decimals)
        text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(amount)
        return UiTokenAmount(amount / 10**decimals, decimals, str(amount), text)

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
        if method not in METHODS:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"Method not found: {method}"}}
        try:
            with self.chain._lock:
                value = getattr(self, method)(request.get("params") or [])
        except Exception as exc:  # noqa: BLE001 - any bad input becomes a JSON-RPC error
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": f"Invalid params: {exc}"}}
        result = value if isinstance(value, str) else json.loads(value.to_json())["result"]
        return {"jsonrpc": "2.0", "id": rid, "result": result}


def build_app(standin: RpcStandin | None = None) -> Starlette:
    """The ASGI app serving JSON-RPC at '/'."""
    rpc = standin or RpcStandin()

    async def endpoint(request: Request) -> Response:
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client gave up mid-request (its timeout): no one
            return Response(status_code=400)  # to answer, and nothing to log as a crash
        body = json.loads(raw)
        if isinstance(body, list):
            return JSONResponse([rpc.handle(r) for r in body])
        return JSONResponse(rpc.handle(body))

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


class SolanaRpcServer:
    """The stand-in on 127.0.0.1:`port` (0: a free one), served by one uvicorn thread."""

    def __init__(self, standin: RpcStandin | None = None, *, port: int = 0,
                 state_file: Path | str | None = None) -> None:
        self.standin = standin or RpcStandin()
        self.state_file = Path(state_file) if state_file else None
        self.port, self._server, self._thread, self._sock = port, None, None, None

    @property
    def url(self) -> str:
        """The RPC URL (valid once started)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> SolanaRpcServer:
        """Restore the saved chain (if any), bind the port and serve until stop()."""
        import uvicorn

        if self._thread is not None:
            raise RuntimeError(f"the Solana RPC stand-in is already serving at {self.url}")
        if self.state_file is not None:
            standin_state.load(self.standin.chain, self.state_file)
        self._sock = _bind(self.port)
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(build_app(self.standin), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"solana-rpc-standin:{self.port}", daemon=True)
        self._thread.start()
        _wait(lambda: self._server.started or not self._thread.is_alive(), timeout_s)
        if not self._server.started:
            self.stop()
            raise RuntimeError(f"the Solana RPC stand-in did not start on port {self.port}")
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving, join the thread, then save the chain (if a state file is set)."""
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout_s)
        self._sock.close()
        self._thread = self._server = self._sock = None
        if self.state_file is not None:
            standin_state.save(self.standin.chain, self.state_file)

    def __enter__(self) -> SolanaRpcServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def run_solana_rpc(standin: RpcStandin | None = None, *, port: int = 0,
                   state_file: Path | str | None = None) -> Iterator[str]:
    """Serve the stand-in on 127.0.0.1 (a free port unless given); yield its RPC URL."""
    with SolanaRpcServer(standin, port=port, state_file=state_file) as server:
        yield server.url


def _bind(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"cannot serve the Solana RPC stand-in on 127.0.0.1:{port}: {exc.strerror}") from None
    return sock


def _wait(done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
