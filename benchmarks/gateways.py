"""Gateway and reward benchmark against the local stand-ins.

    .venv/bin/python -m benchmarks.gateways [--n 200] [--mints 2000]

Per adapter: authorize (manual capture) + capture latency through the resilience
layer, against localstripe, the Amazon Pay sandbox, LiteSVM in process and the
JSON-RPC stand-in over LiteSVM. Preparing a payment method (Amazon's buyer approval,
funding a wallet) is not timed. Then SmartReward mints per second on LiteSVM: the
full idempotent path (ledger claim, build, sign, send, confirm, settle).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
from solders.keypair import Keypair

from benchmarks._stats import print_table, row
from integrations.gateways.base import AuthorizeRequest, PaymentStatus
from smartpay.settings import GatewaySettings
from harness.local_gateways import LocalGateways, local_gateways
from integrations.gateways.registry import resilient
from integrations.gateways.solana import (
    Ledger, LiteSvmBackend, RpcBackend, SolanaAdapter, run_solana_rpc, setup_localnet, spl,
)
from integrations.rewards import RewardConfig, RewardLedger, RewardService, create_reward_mint


async def _auth_capture(gateway, payment_id: str, method: str) -> float:
    """One authorize + capture; returns milliseconds."""
    t0 = time.perf_counter()
    req = AuthorizeRequest(payment_id=payment_id, amount_minor=1_000, currency="USD", payment_method=method,
                           capture=False)
    auth = await gateway.authorize(req)
    done = await gateway.capture(auth.gateway_ref, payment_id=payment_id)
    elapsed = (time.perf_counter() - t0) * 1000
    if done.status != PaymentStatus.CAPTURED:
        raise RuntimeError(f"{gateway.name}: ended {done.status}")
    return elapsed


async def _bench_gateway(name: str, gateway, methods, n: int, warmup: int = 10) -> dict:
    ids = [f"bench-{name}-{i}" for i in range(n + warmup)]
    prepared = [await methods(pid) for pid in ids]
    lat = [await _auth_capture(gateway, pid, m) for pid, m in zip(ids, prepared)][warmup:]
    return row(f"{name} auth+capture", np.array(lat))


async def _bench_local(local: LocalGateways, n: int) -> list[dict]:
    rows = []
    for name, gateway in local.gateways.items():
        async def methods(pid, name=name):
            return await local.payment_method(name, pid, 1_000, "USD", capture=False)

        label = "solana-litesvm" if name == "solana" else name
        rows.append(await _bench_gateway(label, gateway, methods, n))
    return rows


async def _bench_solana_rpc(n: int) -> dict:
    with run_solana_rpc() as url:
        backend = RpcBackend(url)
        chain = await setup_localnet(backend)
        book = Ledger()
        await book.migrate()
        gateway = resilient(SolanaAdapter(backend, book, **chain.adapter_kwargs()), GatewaySettings())
        wallet = await chain.new_wallet(10**9)

        async def methods(pid):
            return wallet

        try:
            return await _bench_gateway("solana-rpc", gateway, methods, n)
        finally:
            await gateway.aclose()


async def _mint_loop(svc: RewardService, name: str, mints: int) -> dict:
    owner = str(Keypair().pubkey())
    lat, t0 = np.empty(mints), time.perf_counter()
    for i in range(mints):
        t = time.perf_counter()
        rec = await svc.reward_payment(f"m-{i}", owner, 2_500, "USD")
        lat[i] = (time.perf_counter() - t) * 1000
        assert rec.state == "escrowed"
    return row(name, lat, time.perf_counter() - t0)


async def _bench_raw_mints(backend: LiteSvmBackend, authority: Keypair, mint, mints: int) -> dict:
    """Build + sign + send of a bare mint_to, without ledger or confirmation."""
    lat, t0 = np.empty(mints), time.perf_counter()
    for i in range(mints):
        t = time.perf_counter()
        ix = spl.mint_ix(mint, authority.pubkey(), authority.pubkey(), i + 1, 6)
        backend.send_sync(spl.build_tx([ix], authority, [], await backend.latest_blockhash()))
        lat[i] = (time.perf_counter() - t) * 1000
    return row("bare mint_to tx (no ledger)", lat, time.perf_counter() - t0)


async def _bench_rewards(mints: int) -> list[dict]:
    backend, authority = LiteSvmBackend(), Keypair()
    mint = await create_reward_mint(backend, authority)
    rows = [await _bench_raw_mints(backend, authority, mint, mints)]
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in (("in-memory", "sqlite://"), ("SQLite file", f"sqlite:///{Path(tmp) / 'r.db'}")):
            ledger = RewardLedger(url)
            await ledger.migrate()
            rows.append(await _mint_loop(RewardService(backend, ledger, authority, RewardConfig(mint)),
                                         f"RewardService, {label} ledger", mints))
            await ledger.aclose()
    return rows


async def main(n: int, mints: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with local_gateways(Path(tmp)) as local:
            rows = await _bench_local(local, n)
    rows.append(await _bench_solana_rpc(n))
    print_table(f"Gateways: authorize + capture, n={n} each (stand-ins on 127.0.0.1)", rows)
    print_table(f"SmartReward mints on LiteSVM, n={mints} each (throughput = mints/s)", await _bench_rewards(mints))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="payments per adapter")
    parser.add_argument("--mints", type=int, default=2000, help="reward mints")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.mints))
