"""BentoML 1.4 services: thin adapters over the model backends, composed by `PaymentAPI`.

    bentoml serve serving.services:PaymentAPI --port 3000

starts the payment API and, through `bentoml.depends`, the `FraudScorer` (batches
formed by the API's coalescer) and `GatewayRouter` services. Instantiated in-process (`PaymentAPI()`), the
dependencies are in-process objects instead, which is what the ASGI tests use.
"""

from __future__ import annotations

import asyncio

import time
from datetime import datetime, timezone

import bentoml

from serving import observability as obs
from serving.app import create_app
from serving.backends import Checkpointing, Reloading, load_factory
from serving.batching import Coalescer
from serving.router_outcomes import learn_or_forward, outcome_forwarding
from serving.router_stats import stats_sync
from serving.runtime import freeze_startup_heap
from serving.schemas import (
    FraudRequest, FraudResult, RouteRequest, RouteResult, RouterDecision,
)
from smartpay.settings import get_settings

app = create_app()
# Per-request access lines cost more than the requests on a 2-core box; latency and
# errors per endpoint are in /metrics and failures in the JSON logs.
_QUIET = {"access": {"enabled": False}}


def _workers(kind: str) -> int:
    """Processes `bentoml serve` starts for a service: `SMARTPAY_SERVING__API_WORKERS`,
    `..._FRAUD_WORKERS`, `..._ROUTER_WORKERS` (read here, when the service is built,
    since BentoML takes the count from the decorator)."""
    return getattr(get_settings().serving, f"{kind}_workers")


def _untraced_urls(*endpoints: str) -> list[str]:
    """Paths the ASGI tracing middleware skips. WebSocket frames never: it would open a
    span per frame sent, most of the cost of fanning an event out to 1,000 clients.
    The request endpoints only while no trace exporter is wired
    (`SMARTPAY_SERVING__TRACE_REQUESTS`): unexported spans cost ~0.3 ms a request."""
    quiet = ["/ws", "/metrics", "/health", "/livez", "/readyz"]
    if not get_settings().serving.trace_requests:
        quiet += list(endpoints)
    return quiet


def _reloading(spec: str) -> Reloading:
    if bentoml.server_context.worker_index is not None:
        # In a `bentoml serve` worker: JSON logs with card data masked before the
        # backend loads, so nothing it logs while loading escapes redaction. A service
        # built in-process (tests, the demo) leaves the process's logging alone.
        obs.configure_logging()
    factory = load_factory(spec)
    probe = getattr(factory, "probe", None)
    return Reloading(factory, probe, get_settings().serving.model_reload_s)


def _serving_process(model: Reloading) -> None:
    """What a model service does to its process once BentoML serves it: the champion
    reload task, a frozen start-up heap. Instantiated in-process (tests, the demo), a
    service changes none of it and starts nothing."""
    model.start()
    freeze_startup_heap()


@bentoml.service(name="fraud_scorer", workers=_workers("fraud"), logging=_QUIET,
                 tracing={"excluded_urls": _untraced_urls("/score")},
                 traffic={"timeout": 30, "concurrency": 512})
class FraudScorer:
    """Scores transactions with `fraud-detector@champion` and Feast online features."""

    def __init__(self) -> None:
        self.model = _reloading(get_settings().serving.fraud_backend)

    @bentoml.on_startup
    async def _start_serving(self) -> None:
        _serving_process(self.model)

    @bentoml.on_shutdown
    async def _stop_serving(self) -> None:
        await self.model.stop()

    # Batches are formed by the caller (`_FraudPort`'s coalescer adapts their size to
    # the load). BentoML's own batcher is off: its dispatcher polls every 1 ms while a
    # batch is in flight and holds requests for its learned wait; measured here it
    # gave p50 16 ms at 200 RPS and p99 480 ms at 500 RPS, against 11 ms and 83 ms
    # without it. async: the batch is scored on the event loop itself. A sync API would run in a
    # worker thread, and the GIL hand-offs between it and the loop (5 ms switch
    # interval) cost more than the scoring of a small batch.
    @bentoml.api
    async def score(self, requests: list[FraudRequest]) -> list[FraudResult]:
        """Risk in [0, 1], decision and top features, one per request."""
        rows = [_fraud_row(r) for r in requests]
        backend = self.model.current
        thresholds = getattr(backend, "thresholds", None)
        return [FraudResult(model_version=backend.version, thresholds=thresholds, **out)
                for out in backend.predict(rows)]


def _fraud_row(r: FraudRequest) -> dict:
    row = r.model_dump()
    row["tx_epoch_s"] = r.tx_epoch_s or int(time.time())
    return row


@bentoml.service(name="gateway_router", workers=_workers("router"), logging=_QUIET,
                 tracing={"excluded_urls": _untraced_urls("/decide", "/feedback")},
                 traffic={"timeout": 30, "concurrency": 512})
class GatewayRouter:
    """Picks a gateway with `gateway-router@champion`; learns online from outcomes."""

    def __init__(self) -> None:
        serving = get_settings().serving
        self.event_time = serving.router_event_time
        self.policy = _reloading(serving.router_backend)
        self.checkpoints = Checkpointing(lambda: self.policy.current,
                                         serving.router_checkpoint_s)
        # prod: outcomes of decisions another router worker or pod made go to it
        self.outcomes = outcome_forwarding(get_settings(), self._learn)
        self.stats = stats_sync(lambda: self.policy.current, serving)

    @bentoml.on_startup
    async def _start_serving(self) -> None:
        _serving_process(self.policy)
        self.checkpoints.start()
        if self.outcomes is not None:
            await self.outcomes.start()
        self.stats.start()

    @bentoml.on_shutdown
    async def _stop_serving(self) -> None:
        await self.policy.stop()
        await self.stats.stop()  # pushes what is left before the last checkpoint
        await self.checkpoints.stop()
        if self.outcomes is not None:
            await self.outcomes.stop()

    @bentoml.api
    def decide(self, request: RouteRequest, eligible: list[str]) -> RouterDecision:
        """The chosen gateway, its probability, the full ranking and a decision id."""
        ctx = request.model_dump(exclude={"tx_epoch_s"})
        at = request.tx_epoch_s
        ctx["hour"] = request.hour if request.hour is not None else (
            datetime.fromtimestamp(at, timezone.utc) if at is not None
            else datetime.now(timezone.utc)).hour
        current = self.policy.current
        if hasattr(current, "decide_logged"):  # the record travels to the ledger
            clock = {"now_s": float(at)} if self.event_time and at is not None else {}
            d = current.decide_logged(ctx, eligible, **clock)
            return RouterDecision(gateway=d.gateway, probability=d.probability,
                                  ranking=d.ranking, decision_id=d.decision_id,
                                  record=d.record,
                                  model_version=d.record.get("policy_version"))
        gateway, p, ranking, decision_id = current.decide(ctx, eligible)
        return RouterDecision(gateway=gateway, probability=p, ranking=ranking,
                              decision_id=decision_id,
                              model_version=getattr(current, "version", None))

    def _learn(self, decision_id: str, outcome: dict) -> None:
        self.policy.current.learn(decision_id, outcome)

    @bentoml.api
    async def feedback(self, decision_id: str, gateway: str, success: bool,
                       latency_ms: float, amount_minor: int, currency: str) -> dict:
        """Online learning from one payment outcome, by the router process that made
        the decision (`serving.router_outcomes`). An outcome for a decision no process
        holds (already learned, or dropped as the oldest of too many pending) is
        acknowledged, not learned."""
        return await learn_or_forward(self._learn, self.outcomes, decision_id, {
            "gateway": gateway, "success": success, "latency_ms": latency_ms,
            "amount_minor": amount_minor, "currency": currency})


def _json_responses(service) -> None:
    """Name each API's response media type up front. Left unset, BentoML derives it
    from the output's JSON schema on every response (a fresh pydantic TypeAdapter and
    schema per call), which cost more than the scoring itself under load."""
    for method in service.apis.values():
        if not method.output_spec.media_type:
            method.output_spec.media_type = "application/json"


_json_responses(FraudScorer)
_json_responses(GatewayRouter)


class DependencyCancelled(ConnectionError):
    """A call to a model service ended in a CancelledError that nobody asked this task
    for (a future it awaited was cancelled elsewhere): a failed call, not a cancel."""


async def _call(method, *args, **kwargs):
    """Call a dependency; retry once when a pooled keep-alive connection turned out to
    be closed by the other side (the request was not processed, so a retry is safe).

    A CancelledError that reaches here while this task is not being cancelled is
    turned into `DependencyCancelled`: let through, it would end the request's task
    as cancelled with no answer, and BentoML's timeout middleware would then answer
    nothing either (uvicorn's bare 500, after 60 s). As an error, the caller's own
    fallback answers: the static route, or 503 from the fraud scorer's port."""
    import aiohttp

    try:
        try:
            return await method(*args, **kwargs)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError,
                aiohttp.ClientOSError):
            return await method(*args, **kwargs)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or task.cancelling():
            raise  # this task is being cancelled: let it end
        raise DependencyCancelled(f"{getattr(method, '__name__', 'call')} was "
                                  "cancelled by the client library") from None


class _FraudPort:
    """The flow's FraudPort over the FraudScorer dependency (local or remote).
    Concurrent checks of this process go to the scorer together as one batch."""

    def __init__(self, dep) -> None:
        self.dep = dep
        self.batcher = Coalescer(self._score_many, max_batch=64,
                                  linger_s=get_settings().serving.fraud_linger_ms / 1000)

    async def _score_many(self, requests: list[FraudRequest]) -> list:
        return await _call(self.dep.to_async.score, requests)

    async def score(self, request: FraudRequest) -> FraudResult:
        out = await self.batcher.submit(request)
        return out if isinstance(out, FraudResult) else FraudResult.model_validate(out)


class _RouterPort:
    def __init__(self, dep) -> None:
        self.dep = dep

    async def decide(self, request: RouteRequest, eligible: list[str]) -> RouterDecision:
        out = await _call(self.dep.to_async.decide, request=request, eligible=eligible)
        return out if isinstance(out, RouterDecision) else RouterDecision.model_validate(
            out.model_dump() if isinstance(out, RouteResult) else out)

    async def feedback(self, decision_id, gateway, success, latency_ms, amount_minor,
                       currency) -> dict:
        return await _call(self.dep.to_async.feedback,
                    decision_id=decision_id, gateway=gateway, success=success,
                    latency_ms=latency_ms, amount_minor=amount_minor, currency=currency)


# BentoML's own request metrics are off here: `RequestContext` already records latency
# per endpoint and status in smartpay_request_seconds, and the duplicate cost ~0.4 ms
# a request. The model services keep theirs (per-API latency and in-flight counts).
@bentoml.service(name="payment_api", workers=_workers("api"), logging=_QUIET,
                 tracing={"excluded_urls": _untraced_urls(
                     "/fraud", "/route", "/pay", "/reward", "/chat")},  # /pay: /payments too
                 metrics={"enabled": False},
                 traffic={"timeout": 60, "concurrency": 2048})
@bentoml.asgi_app(app, path="/")
class PaymentAPI:
    """The merchant-facing API; composes the model services with `bentoml.depends`."""

    # A URL in settings: the model service runs as its own deployment (one Bento per
    # service, infra/k8s); none: `bentoml serve` starts it beside the API.
    fraud = bentoml.depends(FraudScorer, url=get_settings().serving.fraud_scorer_url or None)
    router = bentoml.depends(
        GatewayRouter, url=get_settings().serving.gateway_router_url or None)

    def __init__(self) -> None:
        from serving.composition import build_runtime

        settings = get_settings()
        obs.configure_logging(settings=settings)  # JSON lines, card data masked
        settings.check_production()  # fail the service at start, naming the setting
        fraud, router = _FraudPort(self.fraud), _RouterPort(self.router)
        app.state.factory = lambda: build_runtime(settings, fraud=fraud, router=router)

    def __metrics__(self, content: str) -> str:
        """Append the payment metrics to BentoML's /metrics (unless its multiprocess
        collector already picked them up from PROMETHEUS_MULTIPROC_DIR)."""
        if "smartpay_payments_total" in content:
            return content
        return content + obs.metrics_text()
