"""Solana specifics on the in-process LiteSVM back-end, and the JSON-RPC stand-in."""

from __future__ import annotations

import asyncio
import socket
import threading
from contextlib import asynccontextmanager

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair

from integrations.gateways.base import AuthorizeRequest, ErrorKind, GatewayError, PaymentStatus
from integrations.gateways.solana import (
    Ledger,
    LiteSvmBackend,
    RpcBackend,
    SolanaAdapter,
    SolanaAsset,
    run_solana_rpc,
    setup_localnet,
    spl,
)
from integrations.gateways.solana import transformers as tf
from integrations.gateways.solana.rpc_standin import SolanaRpcServer
from smartpay.errors import DataFileError
from integrations.gateways.solana.localnet import SOL
from tests.pg import pg_database  # noqa: F401 (a fixture)


def run(coro):
    return asyncio.run(coro)


@asynccontextmanager
async def _book(url: str = "sqlite://"):
    """A migrated Solana book, closed afterwards."""
    book = Ledger(url)
    await book.migrate()
    try:
        yield book
    finally:
        await book.aclose()


@asynccontextmanager
async def _litesvm():
    chain = await setup_localnet(LiteSvmBackend())
    async with _book() as book:
        yield chain, SolanaAdapter(chain.backend, book, **chain.adapter_kwargs())


def _req(pid: str, wallet: str, amount: int, capture: bool = True) -> AuthorizeRequest:
    return AuthorizeRequest(payment_id=pid, amount_minor=amount, currency="USD", payment_method=wallet, capture=capture)


def test_litesvm_payment_should_move_stablecoin_from_payer_to_merchant():
    async def scenario():
        async with _litesvm() as (chain, adapter):
            wallet = await chain.new_wallet(5_000)
            result = await adapter.authorize(_req("p1", wallet, 1_250))
            payer = await spl.token_balance(chain.backend, chain.wallets[wallet].pubkey(), chain.asset.mint)
            merchant = await spl.token_balance(chain.backend, chain.merchant.pubkey(), chain.asset.mint)
            return result, payer, merchant

    result, payer, merchant = run(scenario())
    assert result.status == PaymentStatus.CAPTURED
    assert (payer, merchant) == (3_750 * 10**4, 1_250 * 10**4)  # 6-decimal token, cents


def test_replaying_an_authorize_should_return_the_first_result_without_paying_twice():
    async def scenario():
        async with _litesvm() as (chain, adapter):
            wallet = await chain.new_wallet(5_000)
            first = await adapter.authorize(_req("p1", wallet, 1_000))
            second = await adapter.authorize(_req("p1", wallet, 1_000))
            return first, second, await spl.token_balance(chain.backend, chain.wallets[wallet].pubkey(), chain.asset.mint)

    first, second, left = run(scenario())
    assert second.gateway_ref == first.gateway_ref and left == 4_000 * 10**4


def test_partial_capture_should_return_the_uncaptured_rest_to_the_payer():
    async def scenario():
        async with _litesvm() as (chain, adapter):
            wallet = await chain.new_wallet(5_000)
            auth = await adapter.authorize(_req("p1", wallet, 2_000, capture=False))
            held = await spl.token_balance(chain.backend, chain.escrow.pubkey(), chain.asset.mint)
            cap = await adapter.capture(auth.gateway_ref, 1_500, payment_id="p1")
            left = await spl.token_balance(chain.backend, chain.wallets[wallet].pubkey(), chain.asset.mint)
            return held, cap, left

    held, cap, left = run(scenario())
    assert held == 2_000 * 10**4 and cap.captured_minor == 1_500 and left == 3_500 * 10**4


def test_sol_payments_should_transfer_lamports_at_the_configured_quote():
    async def scenario():
        chain = await setup_localnet(LiteSvmBackend())
        payer = Keypair()
        await chain.backend.airdrop(payer.pubkey(), 2 * SOL)
        asset = SolanaAsset("sol", units_per_minor=100_000)
        async with _book() as book:
            adapter = SolanaAdapter(chain.backend, book, merchant=chain.merchant, escrow=chain.escrow, asset=asset,
                                    wallets={str(payer.pubkey()): payer}.get)
            before = await chain.backend.lamports(chain.merchant.pubkey())
            result = await adapter.authorize(_req("p1", str(payer.pubkey()), 1_000))
            after = await chain.backend.lamports(chain.merchant.pubkey())
        return result, after - before, await chain.backend.lamports(payer.pubkey())

    result, gained, payer_left = run(scenario())
    assert result.status == PaymentStatus.CAPTURED
    # the merchant pays the fee: 5000 lamports per signature (merchant + payer)
    assert gained == 1_000 * 100_000 - 2 * 5_000 and payer_left == 2 * SOL - 10**8


def test_an_unknown_wallet_or_currency_should_be_refused_before_anything_is_sent():
    async def scenario():
        async with _litesvm() as (chain, adapter):
            errors = []
            for req in (_req("p1", str(Keypair().pubkey()), 100),
                        AuthorizeRequest(payment_id="p2", amount_minor=1, currency="EUR", payment_method="x")):
                with pytest.raises(GatewayError) as info:
                    await adapter.authorize(req)
                errors.append((info.value.kind, info.value.code, info.value.sent))
            return errors

    assert run(scenario()) == [(ErrorKind.INVALID_REQUEST, "unknown_wallet", False),
                               (ErrorKind.INVALID_REQUEST, "currency", False)]


def test_two_equal_payments_by_one_payer_in_one_blockhash_should_both_be_charged():
    async def scenario():
        async with _litesvm() as (chain, adapter):
            wallet = await chain.new_wallet(5_000)
            results = [await adapter.authorize(_req(pid, wallet, 1_000)) for pid in ("p1", "p2")]
            return results, await spl.token_balance(chain.backend, chain.wallets[wallet].pubkey(), chain.asset.mint)

    results, left = run(scenario())
    assert results[0].gateway_ref != results[1].gateway_ref
    assert left == 3_000 * 10**4


@pytest.mark.prod
def test_the_solana_ledger_should_work_on_postgresql(prod_server, pg_database):
    url = pg_database(*prod_server("postgres"))

    async def scenario():
        chain = await setup_localnet(LiteSvmBackend())
        async with _book(url) as book:
            adapter = SolanaAdapter(chain.backend, book, **chain.adapter_kwargs())
            wallet = await chain.new_wallet(5_000)
            paid = await adapter.authorize(_req("pg-p1", wallet, 1_000))
            await adapter.refund(paid.gateway_ref, 400, refund_id="pg-r1")
            with pytest.raises(GatewayError):
                await adapter.refund(paid.gateway_ref, 601, refund_id="pg-r2")
            return await adapter.sync("pg-p1")

    synced = run(scenario())
    assert synced.status == PaymentStatus.PARTIALLY_REFUNDED and synced.refundable_minor == 600


# --- the JSON-RPC stand-in ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, method: str, params: list | None = None) -> dict:
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).json()


def test_the_rpc_standin_should_serve_on_the_port_it_was_given():
    port = _free_port()
    with run_solana_rpc(port=port) as url:
        health = _post(url, "getHealth")
    assert url == f"http://127.0.0.1:{port}" and health["result"] == "ok"


def test_stopping_the_rpc_standin_should_free_its_port_and_leave_no_thread():
    before = set(threading.enumerate())
    server = SolanaRpcServer().start()
    port, serving = server.port, len(set(threading.enumerate()) - before)
    server.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again
    assert serving == 1 and set(threading.enumerate()) <= before


def test_the_rpc_standin_should_refuse_a_second_start_and_an_unknown_method():
    with SolanaRpcServer() as server:
        with pytest.raises(RuntimeError, match="already serving"):
            server.start()
        answer = _post(server.url, "handle", [{}])
    assert answer["error"]["code"] == -32601


def test_token_balance_and_supply_over_rpc_should_read_like_a_node():
    async def scenario(url):
        backend, client = RpcBackend(url), AsyncClient(url)
        try:
            chain = await setup_localnet(backend)
            wallet = await chain.new_wallet(1_234)  # 12.34 USD of a 6-decimal token
            owner = chain.wallets[wallet].pubkey()
            balance = (await client.get_token_account_balance(spl.ata(owner, chain.asset.mint))).value
            supply = (await client.get_token_supply(chain.asset.mint)).value
            via_backend = await spl.token_balance(backend, owner, chain.asset.mint)
            return balance, supply, via_backend
        finally:
            await client.close()
            await backend.aclose()

    with run_solana_rpc() as url:
        balance, supply, via_backend = run(scenario(url))
    assert (balance.amount, balance.decimals, balance.ui_amount_string) == ("12340000", 6, "12.34")
    assert supply.amount == "12340000" and via_backend == 12_340_000


def test_a_restarted_rpc_standin_should_keep_balances_and_signature_outcomes(tmp_path):
    state = tmp_path / "chain.json"

    async def pay(url):
        backend = RpcBackend(url)
        chain = await setup_localnet(backend)
        wallet = await chain.new_wallet(500)
        payer = chain.wallets[wallet]
        ok = await spl.submit(backend, [spl.token_transfer_ix(chain.asset.mint, payer.pubkey(),
                                         chain.merchant.pubkey(), 2_000_000, 6)], chain.merchant, [payer])
        bad = await spl.submit(backend, [spl.token_transfer_ix(chain.asset.mint, payer.pubkey(),
                                          chain.merchant.pubkey(), 10**12, 6)], chain.merchant, [payer])
        await backend.aclose()
        return chain, payer.pubkey(), ok.signature, bad.signature

    async def read(url, chain, payer, ok, bad):
        backend = RpcBackend(url)
        try:
            return (await spl.token_balance(backend, payer, chain.asset.mint),
                    await spl.token_balance(backend, chain.merchant.pubkey(), chain.asset.mint),
                    await backend.status(ok), await backend.status(bad))
        finally:
            await backend.aclose()

    with run_solana_rpc(state_file=state) as url:
        chain, payer, ok, bad = run(pay(url))
    with run_solana_rpc(state_file=state) as url:
        left, merchant, ok_status, bad_status = run(read(url, chain, payer, ok, bad))
    assert (left, merchant) == (3_000_000, 2_000_000)
    assert ok_status.state == "confirmed"
    assert bad_status.state == "failed" and tf.error_code(bad_status.err) == "insufficient_funds"


# --- persistent keys ----------------------------------------------------------------


def test_loading_a_missing_keypair_file_should_name_the_path_and_create_nothing(tmp_path):
    missing = tmp_path / "secrets" / "merchant.json"
    with pytest.raises(DataFileError) as info:
        spl.load_keypair(missing)
    assert str(missing) in str(info.value) and not missing.exists()


def test_loading_a_corrupt_keypair_file_should_name_the_path(tmp_path):
    bad = tmp_path / "merchant.json"
    bad.write_text("[1, 2, 3]")
    with pytest.raises(DataFileError, match=str(bad)):
        spl.load_keypair(bad)


def test_load_or_create_should_make_a_private_key_file_once_and_reuse_it(tmp_path):
    path = tmp_path / "secrets" / "authority.json"
    first = spl.load_or_create_keypair(path)
    again = spl.load_or_create_keypair(path)
    assert first == again == spl.load_keypair(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_creating_a_mint_that_already_exists_should_reuse_it_only_when_it_matches():
    """A restored chain already holds the harness's mints; their keypairs are kept."""

    async def scenario():
        backend, payer, authority, mint = LiteSvmBackend(), Keypair(), Keypair(), Keypair()
        await backend.airdrop(payer.pubkey(), 10 * SOL)
        first = await spl.create_mint(backend, payer, authority.pubkey(), 6, mint=mint)
        again = await spl.create_mint(backend, payer, authority.pubkey(), 6, mint=mint)
        with pytest.raises(RuntimeError, match="exists with authority"):
            await spl.create_mint(backend, payer, Keypair().pubkey(), 6, mint=mint)
        with pytest.raises(RuntimeError, match="not an SPL mint"):
            await spl.create_mint(backend, payer, authority.pubkey(), 6, mint=payer)
        return first, again

    first, again = run(scenario())
    assert first == again
