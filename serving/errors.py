"""Error answers with one shape: `{"error", "message", "fields"}`. Values echoed back in
422s are scalars only, with digit runs and secrets masked and card numbers left out, so
a card number, CVC or token sent by mistake is never reflected."""

from __future__ import annotations

import math
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.ledger import IllegalTransition
from serving.security import ApiError
from smartpay.errors import InputError
from smartpay.redact import Redactor, card_numbers

_DIGITS = re.compile(r"\d{6,}")
_REDACT = Redactor()


def _mask(value: object) -> object:
    """What a 422 may echo of a value: short masked scalars; containers not at all."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (int, float)):
        value = str(value) if abs(value) >= 10**6 else value
    if isinstance(value, str):
        if card_numbers(value):
            return "[card number removed]"
        return _DIGITS.sub(lambda m: "*" * len(m.group()), _REDACT(value[:256]))[:64]
    return value if isinstance(value, (int, float)) else None


def field_errors(exc: RequestValidationError) -> list[dict]:
    """One entry per bad field: dotted path, masked value, what was expected."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        # An unknown field is where card data goes by mistake (`cvc`, `card_number`):
        # its value is never echoed.
        value = None if err.get("type") == "extra_forbidden" else _mask(err.get("input"))
        out.append({"field": ".".join(loc) or "body", "value": value,
                    "expected": err.get("msg", "")})
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into clear JSON bodies."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "message": exc.message,
                             "fields": exc.fields}, exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = field_errors(exc)
        names = ", ".join(f["field"] for f in fields)
        return JSONResponse({"error": "validation_error", "message": f"invalid request: "
                             f"{names}; nothing was written", "fields": fields}, 422)

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        field = {"field": exc.field, "value": _mask(exc.value), "expected": exc.expected}
        return JSONResponse({"error": "validation_error", "message": f"invalid request: "
                             f"{exc.field}; nothing was written", "fields": [field]}, 422)

    @app.exception_handler(IllegalTransition)
    async def _illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse({"error": "illegal_transition", "message": str(exc),
                             "fields": []}, 409)
