"""Transaction building blocks shared by the Solana gateway and the rewards service.

Instruction builders are pure; `build_tx` signs; `submit` sends through any
`ChainBackend` and waits for the outcome. The same code serves LiteSVM and RPC.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.token.state import Mint, TokenAccount
from solders.transaction import VersionedTransaction
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.memo.instructions import create_memo
from spl.memo.models import MemoParams
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    burn_checked,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to_checked,
    transfer_checked,
)
from spl.token.models import (
    BurnCheckedParams,
    InitializeMintParams,
    MintToCheckedParams,
    TransferCheckedParams,
)

from integrations.gateways.solana.chain import ChainBackend, TxOutcome, confirm
from smartpay.errors import DataFileError

MINT_SIZE = 82


def load_keypair(path: Path) -> Keypair:
    """A keypair from a solana-keygen JSON file (a list of 64 byte values).

    Strict: a missing or malformed file is an error naming the path, never a new key
    (a new mint authority would orphan every token the old one controls).
    """
    path = Path(path)
    try:
        return Keypair.from_bytes(bytes(json.loads(path.read_text())))
    except FileNotFoundError:
        raise DataFileError(path, "no such keypair file (expected a solana-keygen JSON file)") from None
    except (OSError, ValueError, TypeError) as exc:
        raise DataFileError(path, f"not a solana-keygen keypair file ({type(exc).__name__})") from None


def load_or_create_keypair(path: Path) -> Keypair:
    """The keypair in `path`, generated and saved there first if the file is missing.

    For stand-in harnesses, whose chain keys must survive a restart; product code
    loads its keys with the strict `load_keypair`.
    """
    path = Path(path)
    if not path.exists():
        save_keypair(Keypair(), path)
    return load_keypair(path)


def save_keypair(kp: Keypair, path: Path) -> None:
    """Write a keypair in solana-keygen format, readable by the owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(list(bytes(kp))))
    path.chmod(0o600)


def ata(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The owner's associated token account for a mint."""
    return get_associated_token_address(owner, mint)


def build_tx(ixs: list[Instruction], fee_payer: Keypair, signers: list[Keypair], blockhash: Hash) -> VersionedTransaction:
    """A signed transaction; of the offered signers, those the message needs sign."""
    msg = Message.new_with_blockhash(ixs, fee_payer.pubkey(), blockhash)
    offered = {k.pubkey(): k for k in [fee_payer, *signers]}
    needed = msg.account_keys[: msg.header.num_required_signatures]
    return VersionedTransaction(msg, [offered[k] for k in needed])


def create_mint_ixs(payer: Pubkey, mint: Pubkey, authority: Pubkey, decimals: int, rent: int) -> list[Instruction]:
    """Allocate and initialise an SPL mint."""
    alloc = create_account(CreateAccountParams(from_pubkey=payer, to_pubkey=mint, lamports=rent,
                                               space=MINT_SIZE, owner=TOKEN_PROGRAM_ID))
    init = initialize_mint(InitializeMintParams(decimals=decimals, program_id=TOKEN_PROGRAM_ID,
                                                mint=mint, mint_authority=authority))
    return [alloc, init]


def ensure_ata_ix(payer: Pubkey, owner: Pubkey, mint: Pubkey) -> Instruction:
    """Create the owner's token account if missing (no-op when it exists)."""
    return create_idempotent_associated_token_account(payer, owner, mint)


def mint_ix(mint: Pubkey, owner: Pubkey, authority: Pubkey, amount: int, decimals: int) -> Instruction:
    """Mint `amount` base units to the owner's associated token account."""
    return mint_to_checked(MintToCheckedParams(program_id=TOKEN_PROGRAM_ID, mint=mint, dest=ata(owner, mint),
                                               mint_authority=authority, amount=amount, decimals=decimals))


def token_transfer_ix(mint: Pubkey, src_owner: Pubkey, dst_owner: Pubkey, amount: int, decimals: int) -> Instruction:
    """Move tokens between two owners' associated token accounts."""
    return transfer_checked(TransferCheckedParams(
        program_id=TOKEN_PROGRAM_ID, source=ata(src_owner, mint), mint=mint,
        dest=ata(dst_owner, mint), owner=src_owner, amount=amount, decimals=decimals))


def burn_ix(mint: Pubkey, owner: Pubkey, amount: int, decimals: int) -> Instruction:
    """Burn tokens from the owner's associated token account."""
    return burn_checked(BurnCheckedParams(program_id=TOKEN_PROGRAM_ID, account=ata(owner, mint), mint=mint,
                                          owner=owner, amount=amount, decimals=decimals))


def memo_ix(signer: Pubkey, text: str) -> Instruction:
    """A memo naming the business operation.

    It makes every transaction unique (two equal transfers in one blockhash would
    otherwise be byte-identical and the chain would run only one) and lets anyone
    reconcile chain history with our payment ids.
    """
    return create_memo(MemoParams(program_id=MEMO_PROGRAM_ID, signer=signer, message=text.encode()))


def sol_transfer_ix(src: Pubkey, dst: Pubkey, lamports: int) -> Instruction:
    """A system-program SOL transfer."""
    return transfer(TransferParams(from_pubkey=src, to_pubkey=dst, lamports=lamports))


async def token_balance(backend: ChainBackend, owner: Pubkey, mint: Pubkey) -> int:
    """Base units held in the owner's associated token account (0 if missing)."""
    data = await backend.account_data(ata(owner, mint))
    return TokenAccount.from_bytes(data).amount if data else 0


async def mint_supply(backend: ChainBackend, mint: Pubkey) -> int:
    """Total supply of a mint in base units."""
    data = await backend.account_data(mint)
    return Mint.from_bytes(data).supply if data else 0


async def submit(backend: ChainBackend, ixs: list[Instruction], fee_payer: Keypair,
                 signers: list[Keypair], timeout_s: float = 10.0) -> TxOutcome:
    """Build, sign, send and confirm one transaction."""
    tx = build_tx(ixs, fee_payer, signers, await backend.latest_blockhash())
    return await confirm(backend, await backend.send(tx), timeout_s)


async def create_mint(backend: ChainBackend, payer: Keypair, authority: Pubkey, decimals: int,
                      mint: Keypair | None = None) -> Pubkey:
    """Create an SPL mint; returns its address.

    Given the keypair of a mint that already exists (a chain restored after a
    restart), it is reused when its authority and decimals match, refused otherwise.
    """
    mint = mint or Keypair()
    if (data := await backend.account_data(mint.pubkey())) is not None:
        return _existing_mint(mint.pubkey(), data, authority, decimals)
    rent = await backend.rent_exempt(MINT_SIZE)
    outcome = await submit(backend, create_mint_ixs(payer.pubkey(), mint.pubkey(), authority, decimals, rent),
                           payer, [mint])
    if outcome.state != "confirmed":
        raise RuntimeError(f"mint creation {outcome.state}: {outcome.err}")
    return mint.pubkey()


def _existing_mint(address: Pubkey, data: bytes, authority: Pubkey, decimals: int) -> Pubkey:
    try:
        found = Mint.from_bytes(data)
    except ValueError:
        raise RuntimeError(f"account {address} exists and is not an SPL mint") from None
    if found.mint_authority != authority or found.decimals != decimals:
        raise RuntimeError(f"mint {address} exists with authority {found.mint_authority} and {found.decimals} "
                           f"decimals, not {authority} and {decimals}")
    return address
