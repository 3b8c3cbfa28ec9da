"""A scanner for service logs, independent of the redaction it checks: a line leaks
when it holds a Luhn-valid card number (a 12-19 digit run starting with 2-6, as card
networks' numbers do), a bearer token or JWT, a provider key, or a configured secret."""

from __future__ import annotations

import re
from pathlib import Path

from smartpay.settings import LOCAL_JWT_SECRET

_CARD = re.compile(r"(?<!\d)[2-6](?:[ -]?\d){11,18}(?!\d)")
_TOKENS = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.|"
                     r"(?i:bearer\s+[A-Za-z0-9._~+/=-]{16,})|"
                     r"\b(?:sk|rk)_live_[A-Za-z0-9]{8,}")
DEFAULT_SECRETS = (LOCAL_JWT_SECRET,)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def leaks(line: str, secrets=DEFAULT_SECRETS) -> list[str]:
    """What in `line` must never be logged (kinds, never the values themselves)."""
    found = []
    if any(_luhn(re.sub(r"[ -]", "", m.group())) for m in _CARD.finditer(line)):
        found.append("card number")
    if _TOKENS.search(line):
        found.append("token")
    if any(s and s in line for s in secrets):
        found.append("configured secret")
    return found


def scan(paths, secrets=DEFAULT_SECRETS) -> list[str]:
    """`file:line: kinds` for every leaking line of the given log files."""
    out = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                kinds = leaks(line, secrets)
                if kinds:
                    out.append(f"{path}:{n}: {', '.join(kinds)}")
    return out


def service_logs(root: Path) -> list[Path]:
    """The log files the test processes wrote under `root` (pytest's base temp)."""
    return sorted(p for p in Path(root).rglob("*.log") if p.is_file())
