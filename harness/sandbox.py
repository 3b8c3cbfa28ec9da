"""Sandbox behaviour the stand-in world needs and a real deployment never has.

In the stand-in world every gateway acts as a card acquirer (as in the router's world
config): a card routed to Amazon Pay is paid by a simulated buyer who approves a
checkout session with that card in the sandbox; a card routed to Solana goes through
a simulated on-ramp that funds a custodial wallet with the amount (nothing for a
failing test card, so the transfer declines). `hooks` is what the composition root
loads when `SMARTPAY_GATEWAYS__SANDBOX_HOOKS` names it (the prod profile refuses to).
"""

from __future__ import annotations

from pathlib import Path

from harness.standins import keypair_file

ECOM = frozenset({"ecommerce"})


def instrument(token: str) -> str:
    """The sandbox test instrument matching a Stripe-style test token."""
    lowered = token.lower()
    if "fail" in lowered or "hard" in lowered:
        return "HardDeclined"
    return "SoftDeclined" if "soft" in lowered else "Visa"


def _amazon_buyer(adapter, endpoint: str):
    import httpx

    from harness.amazon_pay_sandbox import approve_as_buyer

    # one client for the process (plain HTTP to the sandbox: no CA store to load)
    client = httpx.AsyncClient(timeout=5, verify=False)

    async def prepare(reference, amount_minor, currency, method_type, token, capture=True):
        if method_type == "amazon_pay":  # the merchant's front end has a session
            return token, token
        session = await adapter.create_checkout_session(reference, amount_minor, currency,
                                                        capture=capture)
        sid = session["checkoutSessionId"]
        await approve_as_buyer(endpoint, sid, instrument(token), client)
        return sid, sid

    return prepare


def _onramp(adapter, settings):
    """Fund a new custodial wallet (kept in the wallets dir the adapter reads)."""
    from solders.keypair import Keypair

    from integrations.gateways.solana import spl

    gw = settings.gateways
    payer = keypair_file(Path(gw.solana_merchant_keypair_file))
    authority = keypair_file(Path(gw.solana_merchant_keypair_file).parent
                             / "usd_mint_authority.json")

    async def prepare(reference, amount_minor, currency, method_type, token, capture=True):
        if method_type == "solana":
            return token, None
        kp = Keypair()
        mint, units = adapter.asset.mint_address, adapter.asset.units(amount_minor)
        if instrument(token) == "HardDeclined":
            units = 0
        ixs = [spl.ensure_ata_ix(payer.pubkey(), kp.pubkey(), mint)]
        if units:
            ixs.append(spl.mint_ix(mint, kp.pubkey(), authority.pubkey(), units,
                                   adapter.asset.decimals))
        outcome = await spl.submit(adapter.backend, ixs, payer, [authority])
        if outcome.state != "confirmed":
            raise RuntimeError(f"on-ramp funding {outcome.state}: {outcome.err}")
        spl.save_keypair(kp, Path(gw.solana_wallets_dir) / f"{kp.pubkey()}.json")
        return str(kp.pubkey()), None

    return prepare


def hooks(settings, adapters: dict) -> dict:
    """{gateway: (method types, currencies or None, channels or None, prepare)}."""
    out = {}
    if "amazon_pay" in adapters:
        out["amazon_pay"] = ({"card", "amazon_pay"}, None, ECOM, _amazon_buyer(
            adapters["amazon_pay"].inner, settings.gateways.amazon_pay_endpoint))
    if "solana" in adapters:
        out["solana"] = ({"card", "solana"}, {"USD"}, ECOM,
                         _onramp(adapters["solana"].inner, settings))
    return out
