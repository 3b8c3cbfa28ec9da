"""`smartpay kb build` and `smartpay evaluate assistant`: the support assistant's stages."""

from __future__ import annotations

import json
import time

import typer

from cli import evaluate_cmds
from cli._ui import console, spinner
from smartpay.settings import get_settings

kb_app = typer.Typer(
    help="Knowledge base of the support assistant.", no_args_is_help=True
)
WARMUP_QUESTIONS = [
    "How do refunds work?",
    "What is a decline?",
    "How do rewards unlock?",
]


def register(app: typer.Typer) -> None:
    """Mount `kb` on the root app and add `assistant` to the shared `evaluate` group."""
    app.add_typer(kb_app, name="kb")
    evaluate_cmds.app.command("assistant")(evaluate_assistant)


@kb_app.command("build")
def build(
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """Chunk, redact and embed integrations/rag/kb into the configured vector index."""
    from integrations.rag.config import rag_config
    from integrations.rag.wiring import build_index

    config = rag_config(get_settings())
    t0 = time.perf_counter()
    with spinner(f"Embedding {config.kb_dir} with {config.embedder}"):
        index = build_index(config)
        index.save(config.index_dir)
    summary = {
        "passages": len(index.passages),
        "sections": len({p.section_id for p in index.passages}),
        "embedder": index.embedder.name,
        "store": config.store,
        "seconds": round(time.perf_counter() - t0, 1),
        "out": str(config.index_dir),
    }
    if json_out:
        print(json.dumps(summary))
        return
    console.print(
        f"[green]indexed[/] {summary['passages']} passages from {summary['sections']} "
        f"sections with {summary['embedder']} ({config.store}) in {summary['seconds']} s "
        f"-> {summary['out']}"
    )


def _table(result: dict, items: list) -> None:
    from rich.table import Table

    kb = sum(1 for i in items if i.passages and not i.txn)
    own = sum(1 for i in items if i.txn)
    table = Table(
        title="Assistant retrieval",
        caption=f"{result['questions']} questions ({kb} KB, {own} own-payment, "
        f"{result['questions'] - kb - own} unanswerable)",
    )
    for col in ("retriever", "hit@3", "mrr"):
        table.add_column(col)
    for mode, metrics in result["retrieval"].items():
        table.add_row(mode, f"{metrics['hit@3']:.3f}", f"{metrics['mrr']:.3f}")
    console.print(table)
    a = result["answers"]
    console.print(
        f"answers (offline grounded): grounded_rate {a['grounded_rate']:.3f}, "
        f"p50 {a['p50_ms']:.1f} ms, p95 {a['p95_ms']:.1f} ms (warm)"
    )


def evaluate_assistant(
    json_out: bool = typer.Option(
        False, "--json", help="End with the results as one JSON line."
    ),
) -> None:
    """Retrieval hit@3/MRR (BM25, dense, hybrid) and grounded answers on the labelled set."""
    from integrations.rag.assistant import Assistant
    from integrations.rag.config import rag_config
    from integrations.rag.evaluation import (
        EVAL_MERCHANT,
        evaluate_answers,
        evaluate_retrieval,
        ledger_provider,
        load_ledger,
        load_questions,
    )
    from integrations.rag.wiring import load_or_build_index

    config = rag_config(get_settings())
    items, ledger = load_questions(), load_ledger()
    with spinner("Loading the knowledge index"):
        index = load_or_build_index(config)
    warm = Assistant(index, config)
    for question in WARMUP_QUESTIONS:
        warm.answer(question, "eval-warmup", "eval")
    # Offline answerer, empty cache, the evaluation ledger as the transactions source.
    assistant = Assistant(index, config, ledger_provider(ledger))
    answers = evaluate_answers(
        lambda item: assistant.answer(item.q, item.user, EVAL_MERCHANT),
        index,
        items,
        ledger,
    )
    result = {
        "questions": len(items),
        "retrieval": evaluate_retrieval(index, items),
        "answers": {k: answers[k] for k in ("grounded_rate", "p50_ms", "p95_ms")},
    }
    _table(result, items)
    if json_out:
        print(json.dumps(result))
