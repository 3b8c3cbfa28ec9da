"""Request bodies are bounded and strict JSON before any route sees them.

A pure ASGI middleware: a body over the size cap is a 413 before it is parsed (a
`Content-Length` over it is refused without reading a byte); a JSON body that does not
parse, nests too deeply, or holds `NaN`, `Infinity`, `-Infinity` or a number too large
for a float (`1e400`) is a 422 naming each such field. The body is never echoed or
logged. Python's `json` accepts all of these, and JSON cannot encode a non-finite
float back into an error answer, so they are refused before validation sees them.
"""

from __future__ import annotations

import json
import math

from starlette.responses import JSONResponse

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_MAX_BYTES = 65_536  # = ServingSettings.max_body_bytes


class _NonFinite:
    """Stands in for a non-finite number while the body is parsed."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def non_finite_fields(raw: bytes) -> list[dict]:
    """Parse `raw` as JSON; one `{"field", "value", "expected"}` per non-finite
    number (dotted path). Raises ValueError when it is not JSON at all."""
    try:
        doc = json.loads(raw, parse_constant=_NonFinite, parse_float=_parse_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    found: list[dict] = []
    _walk(doc, [], found)
    return found


def _walk(node: object, path: list[str], found: list[dict]) -> None:
    # Depth is bounded by the parser (RecursionError above), so recursion here is too.
    if isinstance(node, _NonFinite):
        found.append({"field": ".".join(path) or "body", "value": node.text[:16],
                      "expected": "a finite number (NaN, Infinity and numbers beyond "
                                  "±1.8e308 are not JSON numbers)"})
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk(value, [*path, str(key)[:64]], found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, [*path, str(i)], found)


def _is_json(headers: dict[bytes, bytes]) -> bool:
    # FastAPI parses a body as JSON when it has no content type, or a JSON one.
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return not kind or kind == b"application/json" or kind.endswith(b"+json")


def _error(status: int, code: str, message: str, fields: list[dict]) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "fields": fields}, status)


def too_large(limit: int) -> JSONResponse:
    return _error(413, "body_too_large", f"the request body is over {limit} bytes; "
                  "nothing was read further or written", [])


def check_json(raw: bytes) -> JSONResponse | None:
    """The 422 for a body that is not strict JSON, or None when it is."""
    if not raw.strip():
        return None  # FastAPI names the missing body itself
    try:
        bad = non_finite_fields(raw)
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, huge ints, nesting
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
        return _error(422, "validation_error", "invalid request: body is not valid "
                      "JSON; nothing was written", [{"field": "body", "value": None,
                                                     "expected": f"JSON ({reason})"}])
    if not bad:
        return None
    names = ", ".join(f["field"] for f in bad)
    return _error(422, "validation_error", f"invalid request: {names}; nothing was "
                  "written", bad)


class BodyGuard:
    """Caps the body (413) and refuses non-strict JSON (422). The cap is the runtime's
    `SMARTPAY_SERVING__MAX_BODY_BYTES`, read per request from the app's runtime."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            return await self.app(scope, receive, send)
        limit = _limit(scope)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            return await too_large(limit)(scope, receive, send)
        raw = await _read(receive, limit)
        if raw is None:
            return await too_large(limit)(scope, receive, send)
        refusal = check_json(raw) if _is_json(headers) else None
        if refusal is not None:
            return await refusal(scope, receive, send)
        return await self.app(scope, _replay(raw, receive), send)


def _limit(scope) -> int:
    rt = getattr(scope["app"].state, "rt", None)
    return rt.settings.serving.max_body_bytes if rt is not None else DEFAULT_MAX_BYTES


async def _read(receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes the cap."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(raw: bytes, receive):
    """A `receive` that hands the app the body already read, then the real channel
    (for the disconnect a streaming response waits for)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay
