"""`smartpay kb build` and `smartpay evaluate assistant --json` through the real CLI app."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from cli.main import app
from integrations.rag.assistant import Assistant

runner = CliRunner()
TINY_KB = (
    "# Help\n\n## Refund window\n\nRefunds are accepted up to 180 days after capture.\n"
)


def test_kb_build_writes_an_index_that_from_settings_then_loads(
    data_dir,
    tmp_path,
    monkeypatch,
    embedder,
):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "help.md").write_text(TINY_KB)
    monkeypatch.setenv("SMARTPAY_RAG__KB_DIR", str(kb))
    result = runner.invoke(app, ["kb", "build", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (
        summary["passages"] == 1
        and (data_dir / "kb" / "index" / "dense.faiss").exists()
    )
    answer = Assistant.from_settings().answer("How long can I refund?", "u", "m")
    assert (
        answer.citations[0].id == "help#refund-window:0" and "180 days" in answer.text
    )


def test_kb_build_on_an_empty_folder_fails_with_a_one_line_error(
    data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("SMARTPAY_RAG__KB_DIR", str(tmp_path))
    result = runner.invoke(app, ["kb", "build"])
    assert result.exit_code != 0 and "no markdown files" in str(result.exception)


def test_evaluate_assistant_reports_both_parts_and_meets_the_targets_on_held_out(
    data_dir,
    kb_index,
    request,
):
    cached = request.config.cache.mkdir(
        "rag_kb_index"
    )  # the session index, already built
    shutil.copytree(cached, data_dir / "kb" / "index")
    result = runner.invoke(app, ["evaluate", "assistant", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])["parts"]
    assert "held-out" in "\n".join(lines[:-1]) or "heldout" in "\n".join(lines[:-1])
    assert set(report) == {"tuning", "heldout"}
    assert report["tuning"]["questions"] >= 60 and report["heldout"]["questions"] >= 30
    held = report["heldout"]
    assert set(held["retrieval"]) == {"bm25", "dense", "hybrid"}
    assert held["retrieval"]["hybrid"]["hit@3"] >= 0.90
    assert held["answers"]["unanswerable_refused"] >= 0.80
    assert held["answers"]["answerable_refused"] <= 0.05
    assert {"grounded_rate", "p95_ms"} <= set(held["answers"])
