"""Save and restore a LiteSVM chain, so a restarted stand-in keeps balances and history.

What is kept: every system- and token-program account (wallets, mints, token
accounts) and the outcome of every signature the chain has seen. The outcomes matter
as much as the balances: a book that finds its pending signature "unknown" after a
restart would re-broadcast it, and a mint that had landed could be minted again.
Programs and sysvars are not saved; a new LiteSVM brings its own.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from solders.account import Account
from solders.pubkey import Pubkey
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from spl.token.constants import TOKEN_PROGRAM_ID

from integrations.gateways.solana.chain import LiteSvmBackend, TxOutcome

SYSTEM_PROGRAM_ID = Pubkey.from_string("11111111111111111111111111111111")
_OWNERS = (SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID)
FORMAT = 1


def snapshot(chain: LiteSvmBackend) -> dict:
    """The chain's user accounts and signature outcomes as JSON-ready data."""
    with chain._lock:
        accounts = {str(key): base64.b64encode(bytes(acc)).decode()
                    for owner in _OWNERS for key, acc in chain.svm.get_program_accounts(owner)
                    if not acc.executable}
        outcomes = {sig: _outcome_json(o) for sig, o in chain._outcomes.items() if o.state != "unknown"}
    return {"format": FORMAT, "accounts": accounts, "signatures": outcomes}


def restore(chain: LiteSvmBackend, state: dict) -> None:
    """Write a snapshot's accounts and signature outcomes into `chain`."""
    if state.get("format") != FORMAT:
        raise ValueError(f"chain state format {state.get('format')!r}, expected {FORMAT}")
    with chain._lock:
        for key, raw in state["accounts"].items():
            chain.svm.set_account(Pubkey.from_string(key), Account.from_bytes(base64.b64decode(raw)))
        for sig, data in state["signatures"].items():
            chain._outcomes[sig] = _outcome(sig, data)


def save(chain: LiteSvmBackend, path: Path) -> None:
    """Write the snapshot to `path` atomically (a crash leaves the old file whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(snapshot(chain)))
    os.replace(tmp, path)


def load(chain: LiteSvmBackend, path: Path) -> bool:
    """Restore from `path` if it exists; True when something was restored."""
    path = Path(path)
    if not path.is_file():
        return False
    restore(chain, json.loads(path.read_text()))
    return True


def _outcome_json(outcome: TxOutcome) -> str | None:
    """None for a confirmed signature; the failed status (with its error) otherwise."""
    if outcome.state == "confirmed":
        return None
    status = TransactionStatus(0, None, None, outcome.err, TransactionConfirmationStatus.Finalized)
    return status.to_json()


def _outcome(sig: str, data: str | None) -> TxOutcome:
    if data is None:
        return TxOutcome(sig, "confirmed")
    return TxOutcome(sig, "failed", TransactionStatus.from_json(data).err)
