"""Error answers with one shape: `{"error", "message", "fields"}`. Values echoed back in
422s have digit runs masked, so a card number sent by mistake is never reflected."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving.ledger import IllegalTransition
from serving.security import ApiError

_DIGITS = re.compile(r"\d{6,}")


def _mask(value: object) -> object:
    if isinstance(value, str):
        return _DIGITS.sub(lambda m: "*" * len(m.group()), value)[:64]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return _mask(str(value))


def field_errors(exc: RequestValidationError) -> list[dict]:
    """One entry per bad field: dotted path, masked value, what was expected."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "value": _mask(err.get("input")),
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

    @app.exception_handler(IllegalTransition)
    async def _illegal(_: Request, exc: IllegalTransition) -> JSONResponse:
        return JSONResponse({"error": "illegal_transition", "message": str(exc),
                             "fields": []}, 409)
