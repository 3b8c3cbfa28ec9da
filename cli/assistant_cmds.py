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


def _table(result: dict) -> None:
    from rich.table import Table

    table = Table(
        title="Assistant on the labelled set (tuning: chosen on; held-out: not)"
    )
    for col in ("part", "questions", "hybrid hit@3", "mrr", "grounded",
                "unanswerable refused", "answerable refused", "p50 ms"):
        table.add_column(col)
    for part, r in result["parts"].items():
        hyb, a = r["retrieval"]["hybrid"], r["answers"]
        table.add_row(part, str(r["questions"]), f"{hyb['hit@3']:.3f}",
                      f"{hyb['mrr']:.3f}",
                      f"{a['grounded_rate']:.3f}", f"{a['unanswerable_refused']:.3f}",
                      f"{a['answerable_refused']:.3f}", f"{a['p50_ms']:.1f}")
    console.print(table)


def evaluate_assistant(
    json_out: bool = typer.Option(
        False, "--json", help="End with the results as one JSON line."
    ),
) -> None:
    """Retrieval hit@3/MRR (BM25, dense, hybrid), grounded answers and refusals, for
    the tuning and the held-out part of the labelled set."""
    from integrations.rag.assistant import Assistant
    from integrations.rag.config import rag_config
    from integrations.rag.evaluation import (
        EVAL_MERCHANT,
        SPLITS,
        evaluate_answers,
        evaluate_retrieval,
        ledger_provider,
        load_ledger,
        load_questions,
    )
    from integrations.rag.wiring import load_or_build_index

    config = rag_config(get_settings())
    ledger = load_ledger()
    with spinner("Loading the knowledge index"):
        index = load_or_build_index(config)
    warm = Assistant(index, config)
    for question in WARMUP_QUESTIONS:
        warm.answer(question, "eval-warmup", "eval")
    parts = {}
    for part in SPLITS:
        items = load_questions(split=part)
        # Offline answerer, empty cache, the evaluation ledger as transactions source.
        assistant = Assistant(index, config, ledger_provider(ledger))
        answers = evaluate_answers(
            lambda item: assistant.answer(item.q, item.user, EVAL_MERCHANT),
            index,
            items,
            ledger,
        )
        parts[part] = {
            "questions": len(items),
            "retrieval": evaluate_retrieval(index, items),
            "answers": {k: v for k, v in answers.items() if k != "rows"},
        }
    result = {"parts": parts}
    _table(result)
    if json_out:
        print(json.dumps(result))


def product_facts(settings=None):
    """What the KB may name: the payment API's routes and documented status codes
    (from the app itself) and the reward settings' rate and escrow period."""
    from fastapi.routing import APIRoute

    from integrations.rag.kb_check import facts_from_openapi
    from serving.app import create_app

    app = create_app()
    # Routes outside the OpenAPI document: the WebSocket and the docs pages.
    others = [r.path for r in app.routes if not isinstance(r, APIRoute)]
    rewards = (settings or get_settings()).rewards
    return facts_from_openapi(app.openapi(), others, rewards.tokens_per_step,
                              rewards.step_major_units, rewards.refund_window_s)


@kb_app.command("check")
def check() -> None:
    """Fail when a KB page names an endpoint, HTTP status, reward rate or escrow
    period the code does not have."""
    from integrations.rag.config import rag_config
    from integrations.rag.index import read_kb
    from integrations.rag.kb_check import check_kb

    settings = get_settings()
    config = rag_config(settings)
    findings = check_kb(read_kb(config.kb_dir), product_facts(settings))
    for finding in findings:
        console.print(f"[red]x[/] {finding}")
    if findings:
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {config.kb_dir} names only what the code has")
