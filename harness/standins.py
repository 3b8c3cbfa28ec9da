"""Start every stand-in and hand the product its URLs and key files, as a deployment
would: `with running_standins(data_dir) as env: ...` yields `SMARTPAY_*` variables.

Keys are throwaway but persistent: generated once under `<data_dir>/secrets` (mode
600) and reused, so a restarted API signs with the same reward mint authority and
finds the same merchant wallets. The Solana node (LiteSVM behind JSON-RPC) lives as
long as the harness, so rewards minted before an API restart can be released after it.
"""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from solders.keypair import Keypair

SOL = 10**9
SANDBOX_HOOKS = "harness.sandbox:hooks"
AMAZON_KEY_ID = "SMARTPAY-LOCAL"


def keypair_file(path: Path) -> Keypair:
    """Load the keypair at `path`, creating it (mode 600) on first use."""
    from integrations.gateways.solana.spl import load_keypair, save_keypair

    if path.is_file():
        return load_keypair(path)
    kp = Keypair()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_keypair(kp, path)
    return kp


def _amazon_keys(secrets: Path) -> tuple[Path, bytes]:
    """The sandbox merchant's RSA key pair (private file for us, public for the server)."""
    from cryptography.hazmat.primitives import serialization

    from integrations.gateways.amazon_pay.signing import generate_key_pair

    path = secrets / "amazon_pay_private.pem"
    if not path.is_file():
        private, _ = generate_key_pair()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(private)
        os.chmod(path, 0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public


async def _prepare_chain(url: str, secrets: Path) -> dict[str, str]:
    """Fund the fee payer, create the USD stablecoin and the SmartReward mint (same
    addresses every time: their keypairs are kept) and the escrow token accounts."""
    from integrations.gateways.solana import spl
    from integrations.gateways.solana.chain import RpcBackend

    backend = RpcBackend(url)
    try:
        keys = {n: keypair_file(secrets / f"{n}.json") for n in (
            "solana_merchant", "solana_escrow", "usd_mint_authority", "usd_mint",
            "reward_authority", "reward_mint")}
        payer = keys["solana_merchant"]
        for who in (payer, keys["reward_authority"]):
            await backend.airdrop(who.pubkey(), 1000 * SOL)
        usd = await spl.create_mint(backend, payer, keys["usd_mint_authority"].pubkey(), 6,
                                    mint=keys["usd_mint"])
        reward = await spl.create_mint(backend, payer, keys["reward_authority"].pubkey(), 6,
                                       mint=keys["reward_mint"])
        ixs = [spl.ensure_ata_ix(payer.pubkey(), keys[o].pubkey(), usd)
               for o in ("solana_merchant", "solana_escrow")]
        ixs.append(spl.ensure_ata_ix(payer.pubkey(), keys["reward_authority"].pubkey(), reward))
        outcome = await spl.submit(backend, ixs, payer, [])
        if outcome.state != "confirmed":
            raise RuntimeError(f"harness token accounts {outcome.state}: {outcome.err}")
        return {"usd_mint": str(usd), "reward_mint": str(reward)}
    finally:
        await backend.aclose()


def standin_env(stripe: str, amazon: str, amazon_key: Path, solana: str,
                secrets: Path, mints: dict[str, str]) -> dict[str, str]:
    """The variables that point a SmartPay process at the running stand-ins."""
    g = "SMARTPAY_GATEWAYS__"
    return {
        f"{g}STRIPE_API_BASE": stripe,
        f"{g}AMAZON_PAY_ENDPOINT": amazon,
        f"{g}AMAZON_PAY_PUBLIC_KEY_ID": AMAZON_KEY_ID,
        f"{g}AMAZON_PAY_PRIVATE_KEY_FILE": str(amazon_key),
        f"{g}SOLANA_RPC_URL": solana,
        f"{g}SOLANA_MERCHANT_KEYPAIR_FILE": str(secrets / "solana_merchant.json"),
        f"{g}SOLANA_ESCROW_KEYPAIR_FILE": str(secrets / "solana_escrow.json"),
        f"{g}SOLANA_WALLETS_DIR": str(secrets / "wallets"),
        f"{g}SOLANA_MINT": mints["usd_mint"],
        f"{g}SANDBOX_HOOKS": SANDBOX_HOOKS,
        "SMARTPAY_REWARDS__MINT": mints["reward_mint"],
        "SMARTPAY_REWARDS__AUTHORITY_KEYPAIR_FILE": str(secrets / "reward_authority.json"),
    }


@contextmanager
def running_standins(data_dir: Path,
                     stripe_state: Path | None = None) -> Iterator[dict[str, str]]:
    """localstripe, the Amazon Pay sandbox and a Solana node, with persistent keys;
    yields the environment for the product (also written to `standins/standins.env`,
    which local `smartpay` commands read beneath their own environment). With
    `stripe_state`, localstripe keeps its books in that file when it is stopped and
    restarted (`harness.localstripe`)."""
    from harness.amazon_pay_sandbox import run_amazon_pay_sandbox
    from harness.localstripe import run_localstripe
    from integrations.gateways.solana.rpc_standin import run_solana_rpc

    secrets = Path(data_dir) / "secrets"
    (secrets / "wallets").mkdir(parents=True, exist_ok=True)
    amazon_key, amazon_public = _amazon_keys(secrets)
    with ExitStack() as stack:
        stripe = stack.enter_context(run_localstripe(state=stripe_state))
        amazon = stack.enter_context(run_amazon_pay_sandbox({AMAZON_KEY_ID: amazon_public}))
        solana = stack.enter_context(run_solana_rpc())
        mints = asyncio.run(_prepare_chain(solana, secrets))
        env = standin_env(stripe, amazon, amazon_key, solana, secrets, mints)
        out = Path(data_dir) / "standins" / "standins.env"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"{k}={json.dumps(v)}\n" for k, v in env.items()))
        yield env


@contextmanager
def running_local_service(data_dir: Path, port: int | None = None,
                          extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The stand-ins plus `bentoml serve` of the API pointed at them; yields its URL."""
    from serving.launcher import running_service

    with running_standins(data_dir) as env:
        with running_service(port, extra_env=env | (extra_env or {})) as url:
            yield url
