"""`smartpay gateways ...` and `smartpay rewards ...`: payments and loyalty tokens."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import typer

from cli._ui import console
from smartpay.errors import InputError

gateways_app = typer.Typer(help="Payment gateways (Stripe, Amazon Pay, Solana).", no_args_is_help=True)
rewards_app = typer.Typer(help="SmartReward tokens: mint, release, balance.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the `gateways` and `rewards` command groups to the root app."""
    app.add_typer(gateways_app, name="gateways")
    app.add_typer(rewards_app, name="rewards")


@gateways_app.command("try")
def try_gateways(
    amount: int = typer.Option(2_500, help="Amount in minor units (cents)."),
    currency: str = typer.Option("USD", help="ISO-4217 currency."),
    json_out: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Pay, partially refund and reward once per gateway against the local stand-ins."""
    from smartpay.money import check_currency

    if amount <= 0:
        raise InputError("amount", amount, "a positive number of minor units")
    rows = asyncio.run(_try_all(amount, check_currency(currency)))
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        console.print(f"{r['gateway']:<10} {r['status']:<18} captured={r['captured']} refunded={r['refunded']} "
                      f"{r['ms']:.0f}ms reward={r['reward_units']} ({r['reward_state']})")


async def _try_all(amount: int, currency: str) -> list[dict]:
    import time

    from solders.keypair import Keypair

    from integrations.gateways import AuthorizeRequest
    from harness.local_gateways import local_gateways
    from integrations.rewards import RewardConfig, RewardLedger, RewardService, create_reward_mint

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        async with local_gateways(Path(tmp)) as local:
            authority = Keypair()
            mint = await create_reward_mint(local.chain.backend, authority)
            book = RewardLedger()
            await book.migrate()
            rewards = RewardService(local.chain.backend, book, authority, RewardConfig(mint))
            for name, gateway in local.gateways.items():
                pid = f"try-{name}"
                method = await local.payment_method(name, pid, amount, currency)
                t0 = time.perf_counter()
                paid = await gateway.authorize(AuthorizeRequest(payment_id=pid, amount_minor=amount,
                                                                currency=currency, payment_method=method))
                ms = (time.perf_counter() - t0) * 1000
                await gateway.refund(paid.gateway_ref, amount // 5, refund_id=f"{pid}-r1")
                now = await gateway.sync(pid, paid.gateway_ref) or paid
                reward = await rewards.reward_payment(pid, str(Keypair().pubkey()), amount, currency)
                rows.append({"gateway": name, "status": now.status.value, "captured": now.captured_minor,
                             "refunded": now.refunded_minor, "ms": round(ms, 1),
                             "reward_units": reward.units, "reward_state": reward.state})
            await book.aclose()
    return rows


def _settings():
    """Settings from the environment; in the local profile, beneath it, what the
    running harness (`smartpay serve`) wrote to `<data>/standins/standins.env`."""
    from smartpay.settings import Settings

    settings = Settings()
    env_file = settings.path("standins", "standins.env")
    if settings.profile == "local" and env_file.is_file():
        settings = Settings(_env_file=[".env", env_file])
    return settings


async def _with_rewards(work):
    """Run `work(service)` on the configured reward service, then close its clients."""
    from serving.composition import build_reward_service

    service = await build_reward_service(_settings())
    try:
        return await work(service)
    finally:
        await service.aclose()


@rewards_app.command("release")
def release() -> None:
    """Release every escrowed reward whose refund window has passed (and settle any
    reward transaction a crash left pending)."""

    async def work(svc):
        settled = await svc.settle_pending()
        return settled, await svc.release_due()

    settled, released = asyncio.run(_with_rewards(work))
    console.print(f"released {len(released)} rewards; settled {settled} pending")


@rewards_app.command("balance")
def balance(wallet: str = typer.Argument(..., help="Wallet address (base58).")) -> None:
    """Released and escrowed SmartReward base units of one wallet."""
    from solders.pubkey import Pubkey

    try:
        Pubkey.from_string(wallet)
    except ValueError:
        raise InputError("wallet", wallet, "a base58 Solana address") from None

    async def work(svc):
        return await svc.balance(wallet), await svc.escrowed(wallet)

    released, escrowed = asyncio.run(_with_rewards(work))
    console.print(f"released={released} escrowed={escrowed}")


@rewards_app.command("create-mint")
def create_mint(
    authority_file: Path = typer.Option(..., help="Where to write the new mint authority keypair (secret)."),
) -> None:
    """Create the SmartReward mint on the configured node (SMARTPAY_GATEWAYS__SOLANA_RPC_URL);
    the authority must already hold SOL for fees."""
    from integrations.gateways.registry import solana_backend
    from integrations.rewards import create_reward_mint, new_authority_file

    if authority_file.exists():
        raise InputError("authority_file", str(authority_file), "a path that does not exist yet")
    settings = _settings()

    async def work():
        backend = solana_backend(settings)
        try:
            return await create_reward_mint(backend, new_authority_file(authority_file), fund=False)
        finally:
            await backend.aclose()

    mint = asyncio.run(work())
    console.print(f"SMARTPAY_REWARDS__MINT={mint}\nSMARTPAY_REWARDS__AUTHORITY_KEYPAIR_FILE={authority_file}")
