"""Support assistant latency: retrieval, offline answers (uncached, cached, with a ledger),
and a closed-loop concurrent run. `python -m benchmarks.assistant [--n 200]`.

Uses the saved index if `smartpay kb build` ran (else builds one in memory first) and
the offline grounded answerer. Questions cycle through the labelled evaluation set.
"""

from __future__ import annotations

import argparse
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np

from benchmarks._stats import print_table, row, stopwatch, time_calls


def _ledger(n: int):
    from integrations.rag.types import TransactionFact

    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    statuses = ["succeeded", "declined", "refunded", "pending", "under_review"]
    rows = [
        TransactionFact(
            id=f"pay_{i:06d}",
            merchant_id="m_bench",
            user_id="u_bench",
            amount_minor=500 + 37 * i,
            currency="USD",
            status=statuses[i % 5],
            created_at=t0 + timedelta(hours=i),
            reason_code="D01" if i % 5 == 1 else None,
            description=f"order {i}",
        )
        for i in range(n)
    ]
    return lambda user_id, merchant_id: [
        r for r in rows if r.user_id == user_id and r.merchant_id == merchant_id
    ]


def _concurrent(assistant, questions, n: int, workers: int) -> tuple[np.ndarray, float]:
    def one(q):
        t0 = time.perf_counter()
        assistant.answer(q, "u_conc", "m_bench")
        return (time.perf_counter() - t0) * 1000

    with stopwatch() as t, ThreadPoolExecutor(workers) as pool:
        lat = list(pool.map(one, itertools.islice(itertools.cycle(questions), n)))
    return np.array(lat), t[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="Calls per row.")
    parser.add_argument(
        "--workers", type=int, default=8, help="Threads for the concurrent row."
    )
    args = parser.parse_args()

    from integrations.rag.assistant import Assistant
    from integrations.rag.config import rag_config
    from integrations.rag.evaluation import load_questions
    from integrations.rag.memory import MemoryTTLStore
    from integrations.rag.wiring import load_or_build_index
    from smartpay.settings import get_settings

    config = rag_config(get_settings())
    with stopwatch() as load:
        index = load_or_build_index(config)
        index.search("warm up the model")
    questions = [q.q for q in load_questions()]
    cycle = itertools.cycle(questions)

    def uncached(provider=None):
        # TTL 0: every entry is already expired, so each call does the full work.
        return Assistant(index, config, provider, cache=MemoryTTLStore(0))

    plain, ledger = uncached(), uncached(_ledger(50))
    cached = Assistant(index, config)
    rows = [
        row(
            "retrieve hybrid top-4",
            time_calls(lambda: index.search(next(cycle)), args.n),
        ),
        row(
            "answer offline, uncached",
            time_calls(lambda: plain.answer(next(cycle), "u", "m"), args.n),
        ),
        row(
            "answer + 50-row ledger",
            time_calls(
                lambda: ledger.answer(
                    "Why was my payment declined?", "u_bench", "m_bench"
                ),
                args.n,
            ),
        ),
        row(
            "answer, cache hit",
            time_calls(lambda: cached.answer("How do refunds work?", "u", "m"), args.n),
        ),
    ]
    lat, seconds = _concurrent(uncached(), questions, args.n, args.workers)
    rows.append(row(f"uncached, {args.workers} threads", lat, seconds))
    print_table(
        f"Support assistant (index load + warm-up {load[0]:.1f} s, "
        f"{len(index.passages)} passages, {index.embedder.name})",
        rows,
    )


if __name__ == "__main__":
    main()
