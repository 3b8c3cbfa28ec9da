"""Redaction of card data and secrets at the logging layer.

`install_redaction` wraps the process's log-record factory, so every record any logger
creates (ours, BentoML's, uvicorn's) has its message, arguments, exception text and
stack masked before a handler sees it: a new log call cannot leak what an old one was
careful about. A serving process installs it at start-up; importing this module changes
nothing.

What is masked: Luhn-valid 12-19 digit card numbers (spaces or dashes allowed; the
last four digits stay, as support shows them), CVC/CVV values, bearer tokens and JWTs,
provider keys and private key blocks, and the literal values of configured secrets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

PAN = re.compile(r"(?<!\d)(?:\d[ -]?){11,18}\d(?!\d)")
_CVC = re.compile(r"(?i)(\b(?:cvc2?|cvv2?|csc|security_code|card_code)\b[\"']?\s*"
                  r"[:=]\s*[\"']?)\d{3,4}")
_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE "
               r"KEY-----|$)", re.DOTALL),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    re.compile(r"\b(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{4,}\b"),
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{16,}\b"),
]
MASK = "[REDACTED]"
_MIN_SECRET = 6  # shorter configured values would mask ordinary words


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum card numbers carry."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """The Luhn-valid 12-19 digit runs in `text` (separators removed)."""
    found = (re.sub(r"[ -]", "", m.group()) for m in PAN.finditer(text))
    return [d for d in found if luhn_ok(d)]


def _mask_pan(m: re.Match) -> str:
    digits = re.sub(r"[ -]", "", m.group())
    return f"[CARD ****{digits[-4:]}]" if luhn_ok(digits) else m.group()


class Redactor:
    """Masks card data, tokens and the given secret values in a string."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = {s.strip() for s in secrets if s and len(s.strip()) >= _MIN_SECRET}
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(MASK, text)
        text = _CVC.sub(lambda m: m.group(1) + "***", text)
        return PAN.sub(_mask_pan, text)


def _masked_arg(arg: object, redact: Redactor) -> object:
    if isinstance(arg, (str, int)) and not isinstance(arg, bool):
        clean = redact(str(arg))
        return arg if clean == str(arg) else clean
    if isinstance(arg, (bytes, bytearray)):
        return redact(bytes(arg).decode("utf-8", "replace"))
    if isinstance(arg, (dict, list, tuple, set)) or hasattr(arg, "__dict__"):
        text = str(arg)
        clean = redact(text)
        return arg if clean == text else clean
    return arg


def redact_record(record: logging.LogRecord, redact: Redactor) -> logging.LogRecord:
    """Mask the record in place. Arguments are masked one by one, so formatters that
    read them (uvicorn's access lines) still work; when that cannot reproduce the
    masked message, the message is stored already formatted."""
    try:
        full = record.getMessage()
    except Exception:  # a broken format string: keep the parts, masked
        full = f"{record.msg} {record.args}"
    clean = redact(full)
    if clean != full:
        _replace_message(record, clean, redact)
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def _replace_message(record: logging.LogRecord, clean: str, redact: Redactor) -> None:
    args = record.args
    if isinstance(record.msg, str) and args:
        if isinstance(args, Mapping):
            masked = {k: _masked_arg(v, redact) for k, v in args.items()}
        else:
            masked = tuple(_masked_arg(a, redact) for a in args)
        try:
            if redact(record.msg) % masked == clean:
                record.msg, record.args = redact(record.msg), masked
                return
        except (TypeError, ValueError, KeyError):
            pass
    record.msg, record.args = clean, None


class _RedactingFactory:
    """A log-record factory that masks each record the wrapped factory makes."""

    def __init__(self, inner, redact: Redactor) -> None:
        self.inner, self.redact = inner, redact

    def __call__(self, *args, **kwargs) -> logging.LogRecord:
        return redact_record(self.inner(*args, **kwargs), self.redact)


def install_redaction(secrets: Iterable[str] = ()) -> Redactor:
    """Mask every log record this process creates from now on (idempotent: a second
    call replaces the secrets, it does not stack factories). Call at process start."""
    redact = Redactor(secrets)
    current = logging.getLogRecordFactory()
    inner = current.inner if isinstance(current, _RedactingFactory) else current
    logging.setLogRecordFactory(_RedactingFactory(inner, redact))
    return redact


def uninstall_redaction() -> None:
    """Restore the factory `install_redaction` wrapped (tests that install it)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(current.inner)


def configured_secrets(settings) -> list[str]:
    """The secret values of a settings tree: keys, and the contents of key files."""
    gw = settings.gateways
    keys = [settings.jwt_secret, settings.stripe_api_key, settings.openai_api_key,
            gw.stripe_webhook_secret]
    out = [k.get_secret_value() for k in keys if k is not None]
    for path in (gw.amazon_pay_private_key_file, gw.solana_merchant_keypair_file,
                 gw.solana_escrow_keypair_file, settings.rewards.authority_keypair_file):
        if path is not None and Path(path).is_file():
            out.append(Path(path).read_text(errors="replace"))
    return out
