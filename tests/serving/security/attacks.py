"""The attack catalogue shared by the in-process and the served tests: a valid body for
every operation of the OpenAPI document, its numeric and string fields, and ways to
break each one (non-finite numbers, ids past int64, card numbers)."""

from __future__ import annotations

import json

from tests.serving.conftest import pay_body

PAN = "4111111111111111"  # Luhn-valid test Visa
PAN_SPACED = "4111 1111 1111 1111"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
HUGE_INTS = [2**63, 10**30]
ROUTE = {"amount_minor": 2_500, "currency": "USD", "payment_method_type": "card",
         "risk_score": 0.1, "hour": 9, "channel": "ecommerce"}
FRAUD = {k: v for k, v in pay_body().items()
         if k in ("amount_minor", "currency", "customer_id", "terminal_id", "card_id",
                  "tx_epoch_s")}
# A valid body per (method, path template) that takes one.
BODIES = {
    ("post", "/fraud"): FRAUD,
    ("post", "/route"): ROUTE,
    ("post", "/pay"): pay_body(user_id="u1", device_id="dev-1"),
    ("post", "/payments/{payment_id}/refund"): {"amount_minor": 100},
    ("post", "/reward"): {"payment_id": "pay_000000000000000000000000"},
    ("post", "/chat"): {"message": "How long does a refund take?", "session_id": "s1"},
    ("post", "/admin/dlq/replay"): {},
    ("post", "/payments/{payment_id}/review"): {"verdict": "reject", "note": "checked"},
    ("post", "/route/{decision_id}/outcome"): {"gateway": "stripe", "success": True,
                                               "latency_ms": 420.0, "amount_minor": 2_500,
                                               "currency": "USD"},
}
PATH_VALUES = {"payment_id": "pay_000000000000000000000000", "user_id": "u1",
               "decision_id": "0123456789abcdef0123456789abcdef"}


def operations(spec: dict) -> list[tuple[str, str]]:
    """Every (method, path) of the document, WebSocket excluded (not in OpenAPI)."""
    return [(m, p) for p, item in spec["paths"].items() for m in item
            if m in ("get", "post", "put", "patch", "delete")]


def url_of(path: str, **values: str) -> str:
    return path.format(**(PATH_VALUES | values))


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _types(spec: dict, schema: dict) -> set[str]:
    schema = _resolve(spec, schema)
    out = {schema["type"]} if "type" in schema else set()
    for alt in schema.get("anyOf", []):
        out |= _types(spec, alt)
    return out


def fields(spec: dict, method: str, path: str) -> dict[str, set[str]]:
    """Top-level body fields of an operation and their JSON types."""
    body = spec["paths"][path][method].get("requestBody")
    if not body:
        return {}
    schema = _resolve(spec, body["content"]["application/json"]["schema"])
    return {name: _types(spec, sub) for name, sub in schema.get("properties", {}).items()}


def with_raw(body: dict, field: str, raw: str) -> bytes:
    """`body` as JSON text with `field` set to the literal `raw` (e.g. NaN)."""
    marker = "\u0000MARK\u0000"
    return json.dumps(body | {field: marker}).replace(json.dumps(marker), raw).encode()
