"""The knowledge base names only endpoints, HTTP statuses, reward rates and escrow
periods the code has, and the check catches a page that drifts."""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from cli.assistant_cmds import product_facts
from cli.main import app
from integrations.rag.config import DEFAULT_KB_DIR
from integrations.rag.index import read_kb
from integrations.rag.kb_check import check_kb

runner = CliRunner()


@pytest.fixture(scope="module")
def facts():
    """Routes and statuses of the real app, rate and escrow of the reward settings."""
    return product_facts()


def test_every_kb_page_names_only_what_the_code_has(facts):
    findings = check_kb(read_kb(DEFAULT_KB_DIR), facts)
    assert findings == [], "\n".join(map(str, findings))


def test_the_facts_hold_the_real_routes_rate_and_escrow(facts):
    assert ("POST", "/payments/{}/refund") in facts.endpoints
    assert ("GET", "/ws") in facts.endpoints
    assert 422 in facts.statuses and 402 not in facts.statuses
    assert (facts.tokens_per_major, facts.escrow_days) == (Fraction(1, 10), 14)


@pytest.mark.parametrize(
    ("page", "sentence", "kind"),
    [
        ("refunds", "Call `POST /v1/refunds` with the payment id.", "endpoint"),
        ("api", "A declined payment answers HTTP 402.", "HTTP status"),
        ("rewards", "Customers earn 1 token per 1 USD they pay.", "reward rate"),
        ("rewards", "Tokens stay in escrow for 30 days.", "escrow period"),
    ],
)
def test_a_wrong_claim_written_into_a_kb_page_is_found(facts, tmp_path, page,
                                                       sentence, kind):
    kb = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB_DIR, kb)
    path = kb / f"{page}.md"
    path.write_text(path.read_text() + f"\n## Drifted\n\n{sentence}\n")
    findings = check_kb(read_kb(kb), facts)
    assert [(f.doc, f.kind) for f in findings] == [(page, kind)]


def test_kb_check_exits_non_zero_naming_a_wrong_route(data_dir, tmp_path, monkeypatch):
    kb = tmp_path / "kb"
    shutil.copytree(DEFAULT_KB_DIR, kb)
    (kb / "api.md").write_text(
        (kb / "api.md").read_text().replace("`POST /pay`", "`POST /v1/pay`", 1)
    )
    monkeypatch.setenv("SMARTPAY_RAG__KB_DIR", str(kb))
    result = runner.invoke(app, ["kb", "check"])
    assert result.exit_code == 1
    assert "POST /v1/pay" in result.output
