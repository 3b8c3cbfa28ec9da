"""SmartReward mints over JSON-RPC: the API process's path to a chain in another process.

    .venv/bin/python -m benchmarks.rewards_rpc [--mints 300] [--concurrency 8] [--rpc-url URL]

Without --rpc-url the LiteSVM JSON-RPC stand-in is started in a child process (as the
harness runs it beside the API), so client and node do not share a GIL. Each mint is
the full idempotent path: claim in the SQLite file book, blockhash, sign, send,
confirm, settle. Then the same with `--concurrency` mints in flight, and replays of
already-minted payments (a book read and nothing sent).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from solders.keypair import Keypair

from benchmarks._stats import print_table, row
from integrations.gateways.solana import RpcBackend
from integrations.rewards import RewardConfig, RewardLedger, RewardService, create_reward_mint


def _serve(port_out, stop) -> None:
    from integrations.gateways.solana.rpc_standin import SolanaRpcServer

    with SolanaRpcServer() as server:
        port_out.put(server.port)
        stop.wait()


@contextmanager
def standin_process() -> Iterator[str]:
    """The RPC stand-in in a child process; yields its URL."""
    ctx = mp.get_context("spawn")
    port_out, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(port_out, stop), name="solana-rpc-standin")
    proc.start()
    try:
        yield f"http://127.0.0.1:{port_out.get(timeout=60)}"
    finally:
        stop.set()
        proc.join(15)


async def _timed(calls) -> np.ndarray:
    lat = np.empty(len(calls))
    for i, call in enumerate(calls):
        t0 = time.perf_counter()
        rec = await call()
        lat[i] = (time.perf_counter() - t0) * 1000
        if rec.state != "escrowed":
            raise RuntimeError(f"mint ended {rec.state}")
    return lat


async def _concurrent(svc: RewardService, ids: list[str], owner: str, width: int) -> tuple[np.ndarray, float]:
    sem, lat = asyncio.Semaphore(width), []

    async def one(pid: str) -> None:
        async with sem:
            t0 = time.perf_counter()
            await svc.reward_payment(pid, owner, 1_000, "USD")
            lat.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*[one(pid) for pid in ids])
    return np.array(lat), time.perf_counter() - t0


async def main(url: str, mints: int, width: int, book_dir: Path) -> list[dict]:
    backend, authority, owner = RpcBackend(url), Keypair(), str(Keypair().pubkey())
    book = RewardLedger(f"sqlite:///{book_dir / 'rewards.db'}")
    await book.migrate()
    try:
        svc = RewardService(backend, book, authority, RewardConfig(await create_reward_mint(backend, authority)))
        mint = lambda pid: lambda: svc.reward_payment(pid, owner, 1_000, "USD")  # noqa: E731
        await _timed([mint(f"warm-{i}") for i in range(20)])
        t0 = time.perf_counter()
        seq = await _timed([mint(f"seq-{i}") for i in range(mints)])
        rows = [row("mint, one at a time", seq, time.perf_counter() - t0)]
        lat, seconds = await _concurrent(svc, [f"par-{i}" for i in range(mints)], owner, width)
        rows.append(row(f"mint, {width} in flight", lat, seconds))
        t0 = time.perf_counter()
        replay = await _timed([mint(f"seq-{i}") for i in range(mints)])
        rows.append(row("replay (already minted)", replay, time.perf_counter() - t0))
        return rows
    finally:
        await book.aclose()
        await backend.aclose()


def run(mints: int, width: int, rpc_url: str | None) -> None:
    """Run the benchmark against `rpc_url` or a stand-in of its own, and print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        if rpc_url:
            rows = asyncio.run(main(rpc_url, mints, width, Path(tmp)))
        else:
            with standin_process() as url:
                rows = asyncio.run(main(url, mints, width, Path(tmp)))
    where = rpc_url or "stand-in in a child process"
    print_table(f"SmartReward mints over JSON-RPC ({where}), SQLite file book, n={mints}", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mints", type=int, default=300, help="mints per row")
    parser.add_argument("--concurrency", type=int, default=8, help="mints in flight in the second row")
    parser.add_argument("--rpc-url", default=None, help="an RPC node to use instead of starting the stand-in")
    args = parser.parse_args()
    run(args.mints, args.concurrency, args.rpc_url)
