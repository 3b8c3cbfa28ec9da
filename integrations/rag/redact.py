"""Redaction of card numbers and secrets before text is embedded, logged or sent out.

Card numbers are found as 13-19 digit runs (spaces or dashes allowed) that pass the Luhn
check, so order ids and amounts are left alone; they keep their last four digits, which
support may show. Secrets (provider API keys, private key blocks, JWTs, `password=...`
assignments) are replaced whole.
"""

from __future__ import annotations

import re

_PAN = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
_SECRETS = [
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
        re.DOTALL,
    ),
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{8,}\b"),
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{16,}\b"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
    re.compile(
        # a value already masked is left alone: redact(redact(t)) == redact(t)
        r"(?i)\b(api[_-]?key|secret|token|password|passwd)(\s*[:=]\s*)"
        r"(?!\[REDACTED SECRET\])[^\s\"',;]{6,}"
    ),
]
SECRET_MASK = "[REDACTED SECRET]"


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_pan(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return f"[CARD ****{digits[-4:]}]"
    return match.group(0)


def _mask_secret(match: re.Match[str]) -> str:
    if match.lastindex and match.lastindex >= 2:
        return f"{match.group(1)}{match.group(2)}{SECRET_MASK}"
    return SECRET_MASK


def redact(text: str) -> str:
    """Return text with card numbers and secrets masked."""
    for pattern in _SECRETS:
        text = pattern.sub(_mask_secret, text)
    return _PAN.sub(_mask_pan, text)
