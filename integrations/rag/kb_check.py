"""The knowledge base checked against the product: every endpoint, HTTP status code,
reward rate and escrow period a KB page names must be one the code has.

The facts come from the caller (the payment API's OpenAPI document and routes, the
reward settings), so this module stays pure: `check_kb(docs, facts)` lists findings,
an empty list means the KB only states what the code does. A KB that drifts from the
API (a `/v1/...` route, an HTTP 402, one token per 1 USD) fails `smartpay kb check`
and the consistency test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_METHOD_PATH = re.compile(
    r"\b(GET|POST|PUT|PATCH|DELETE)\s+`?(/[A-Za-z0-9_{}/.\-]*)"
)
_TICKED_PATH = re.compile(r"`(/[A-Za-z0-9_{}/.\-]*)(?:\?[^`]*)?`")
_STATUS = re.compile(
    r"\bHTTP\s+([1-5]\d\d)\b|`([1-5]\d\d)`|\b(?:status|code)\s+([1-5]\d\d)\b"
    r"|\b([1-5]\d\d)\s+(?:means|error|response|status)\b",
    re.IGNORECASE,
)
_RATE = re.compile(
    r"\b(\d+(?:\.\d+)?)\s+(?:SmartReward\s+)?tokens?\s+(?:\(SRT\)\s+)?"
    r"(?:for\s+every|for\s+each|per)\s+(\d+(?:\.\d+)?)\s*(?:USD|major\s+units?)\b",
    re.IGNORECASE,
)
_DAYS = re.compile(r"\b(\d+)[- ]days?\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PARAM = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class ProductFacts:
    """What the code has: routes (method, path with `{}` for parameters), the HTTP
    status codes it documents, whole tokens per major unit paid, and escrow days."""

    endpoints: frozenset[tuple[str, str]]
    statuses: frozenset[int]
    tokens_per_major: Fraction
    escrow_days: Fraction

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(p for _, p in self.endpoints)


@dataclass(frozen=True)
class Finding:
    """One claim of a KB page the code does not back: where, what, and what exists."""

    doc: str
    line: int
    kind: str
    claim: str
    expected: str

    def __str__(self) -> str:
        return (
            f"{self.doc}.md:{self.line}: {self.kind} {self.claim!r} is not in the "
            f"product (expected {self.expected})"
        )


def normalise_path(path: str) -> str:
    """`/payments/{id}/refund/` -> `/payments/{}/refund` (parameter names don't
    matter)."""
    path = _PARAM.sub("{}", path.split("?", 1)[0]).rstrip("/.")
    return path or "/"


def facts_from_openapi(
    spec: dict,
    get_paths: list[str],
    tokens_per_step: int,
    step_major_units: int,
    escrow_s: float,
) -> ProductFacts:
    """Facts from an OpenAPI document, the app's other GET routes (the WebSocket, the
    docs pages) and the reward settings."""
    endpoints, statuses = set(), {101}  # 101: the WebSocket upgrade
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            endpoints.add((method.upper(), normalise_path(path)))
            codes = op.get("responses", {})
            statuses |= {int(code) for code in codes if code.isdigit()}
    endpoints |= {("GET", normalise_path(p)) for p in get_paths}
    return ProductFacts(
        frozenset(endpoints),
        frozenset(statuses),
        Fraction(tokens_per_step, step_major_units),
        Fraction(int(escrow_s), 86_400),
    )


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _endpoint_findings(doc: str, text: str, facts: ProductFacts) -> list[Finding]:
    out, routes = [], sorted(f"{m} {p}" for m, p in facts.endpoints)
    for m in _METHOD_PATH.finditer(text):
        claim = (m.group(1), normalise_path(m.group(2)))
        if claim not in facts.endpoints:
            out.append(Finding(doc, _line_of(text, m.start()), "endpoint",
                               " ".join(claim), "one of " + ", ".join(routes)))
    for m in _TICKED_PATH.finditer(text):
        if normalise_path(m.group(1)) not in facts.paths:
            out.append(Finding(doc, _line_of(text, m.start()), "path", m.group(1),
                               "one of " + ", ".join(sorted(facts.paths))))
    return out


def _status_findings(doc: str, text: str, facts: ProductFacts) -> list[Finding]:
    out = []
    for m in _STATUS.finditer(text):
        code = int(next(g for g in m.groups() if g))
        if code not in facts.statuses:
            out.append(Finding(doc, _line_of(text, m.start()), "HTTP status", str(code),
                               "one of " + ", ".join(map(str, sorted(facts.statuses)))))
    return out


def _reward_findings(doc: str, text: str, facts: ProductFacts) -> list[Finding]:
    out, rate = [], facts.tokens_per_major
    for m in _RATE.finditer(text):
        if Fraction(m.group(1)) / Fraction(m.group(2)) != rate:
            out.append(Finding(doc, _line_of(text, m.start()), "reward rate",
                               m.group(0),
                               f"{rate.numerator} token per {rate.denominator} USD"))
    pos = 0
    for sentence in _SENTENCE.split(text):
        start, pos = text.find(sentence, pos), pos + len(sentence)
        if "escrow" not in sentence.lower():
            continue
        for m in _DAYS.finditer(sentence):
            if Fraction(m.group(1)) != facts.escrow_days:
                out.append(Finding(doc, _line_of(text, start + m.start()),
                                   "escrow period", m.group(0),
                                   f"{facts.escrow_days} days"))
    return out


def check_page(doc: str, text: str, facts: ProductFacts) -> list[Finding]:
    """Every claim of one page that the product does not back."""
    return (
        _endpoint_findings(doc, text, facts)
        + _status_findings(doc, text, facts)
        + _reward_findings(doc, text, facts)
    )


def check_kb(docs: dict[str, str], facts: ProductFacts) -> list[Finding]:
    """Findings over every page of the KB ({doc_id: markdown}), page by page."""
    return [
        f for doc, text in sorted(docs.items()) for f in check_page(doc, text, facts)
    ]
