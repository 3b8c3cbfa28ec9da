"""Prometheus metrics (own registry), JSON logs carrying a request id, OpenTelemetry spans.

The registry is ours so it can be appended to BentoML's /metrics and served alone by the
plain ASGI app. Card data never reaches a log line: only ids and tokens are logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from smartpay.redact import card_numbers, configured_secrets, install_redaction
from smartpay.settings import get_settings

REGISTRY = CollectorRegistry(auto_describe=True)
LATENCY = Histogram("smartpay_request_seconds", "Request latency per endpoint",
                    ["endpoint", "method", "status"], registry=REGISTRY,
                    buckets=(.001, .0025, .005, .01, .025, .05, .1, .15, .25, .5, 1, 2, 5))
PAYMENTS = Counter("smartpay_payments_total", "Payments by final status and gateway",
                   ["status", "gateway"], registry=REGISTRY)
APPROVALS = Counter("smartpay_gateway_approvals_total", "Captured payments per gateway",
                    ["gateway"], registry=REGISTRY)
ATTEMPTS = Counter("smartpay_gateway_attempts_total", "Gateway calls by outcome",
                   ["gateway", "outcome"], registry=REGISTRY)
FRAUD_SCORE = Histogram("smartpay_fraud_score", "Distribution of fraud risk scores",
                        registry=REGISTRY, buckets=[i / 20 for i in range(1, 21)])
BREAKER_OPEN = Gauge("smartpay_breaker_open", "1 when a gateway's breaker is open",
                     ["gateway"], registry=REGISTRY)
DLQ_DEPTH = Gauge("smartpay_dlq_depth", "Events parked in the dead-letter queue",
                  registry=REGISTRY)
MODEL_UP = Gauge("smartpay_model_up", "1 when a model service answers", ["model"],
                 registry=REGISTRY)
REWARDS = Counter("smartpay_rewards_minted_total", "Rewards minted into escrow",
                  registry=REGISTRY)
WS_FANOUT = Histogram("smartpay_ws_fanout_seconds", "Time to hand one event to every "
                      "subscribed WebSocket client", registry=REGISTRY,
                      buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
WS_CLIENTS = Gauge("smartpay_ws_clients", "Connected WebSocket clients", registry=REGISTRY)
FRESH_FEATURES_S = Histogram("smartpay_fresh_features_seconds", "Time to log one payment "
                             "and push its customer's and terminal's fraud features",
                             registry=REGISTRY,
                             buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
tracer = trace.get_tracer("smartpay.serving")


def metrics_text() -> str:
    return generate_latest(REGISTRY).decode()


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and request id."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(record.created, 3), "level": record.levelname,
               "logger": record.name, "msg": record.getMessage(),
               "request_id": request_id.get()}
        if record.exc_info or record.exc_text:
            # exc_text is what the redacting record factory left (masked)
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out)


def configure_logging(level: int = logging.INFO, settings=None) -> None:
    """Send `smartpay.*` logs to stderr as JSON lines, and mask card data and the
    configured secrets in every record of this process (idempotent). Called by a
    serving process at start-up, never on import."""
    install_redaction(configured_secrets(settings or get_settings()))
    logger = logging.getLogger("smartpay")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def _route_name(scope: dict) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


_RID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _request_id(raw: bytes) -> str:
    """The caller's X-Request-ID when it is a plain id; logged and echoed back, so
    anything else (a card number, a token, 10 KB) is replaced by a fresh one."""
    rid = raw.decode("latin-1")
    return rid if _RID.fullmatch(rid) and not card_numbers(rid) else ""


class RequestContext:
    """Pure ASGI middleware: request id in, X-Request-ID out, latency histogram."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = _request_id(dict(scope.get("headers") or []).get(b"x-request-id", b""))
        token = request_id.set(rid or uuid.uuid4().hex[:16])
        t0, status = time.perf_counter(), [500]

        async def _send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-request-id", request_id.get().encode())]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            LATENCY.labels(_route_name(scope), scope["method"], str(status[0])).observe(
                time.perf_counter() - t0)
            request_id.reset(token)
