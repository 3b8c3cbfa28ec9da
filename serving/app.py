"""The payment API (FastAPI): what merchants call. Mounted into the BentoML `PaymentAPI`
service with `@bentoml.asgi_app`, or served alone with a runtime built in-process.

Only /health, /metrics and the docs are open; everything else needs a bearer JWT.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone
import inspect
from typing import Annotated, Callable

from fastapi import Depends, FastAPI, Header, Path, Query, Request, WebSocket
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving import errors, webapp
from serving.fraudview import FraudStats, fraud_stats
from serving.modelsview import ModelsView, read_models
from serving.opsview import GatewayStats, gateway_stats
from serving.rewardsview import RewardsView, rewards_view
from serving import observability as obs
from serving.body_guard import BodyGuard
from serving.idempotency import body_hash, check_key
from serving.payments import refunds
from serving.payments.views import to_view
from serving.ratelimit import AddressLimit
from serving.runtime import Runtime, freeze_startup_heap
from serving.schemas import (
    BalanceView, ChatRequest, ChatResponse, ErrorBody, FraudRequest, FraudResult,
    PaymentId, PaymentStatus, PaymentView, PayRequest, RefundRequest, ReviewRequest,
    RewardInfo,
    RewardRequest,
    OutcomeAck, RouteOutcome, RouteRequest, RouteResult, UserId,
)
from serving.security import ApiError, Principal
from serving.ws import Hub, ws_credentials

_DESCRIPTION = """Fraud scoring, gateway routing, payments, rewards and chat.

Authentication: `Authorization: Bearer <JWT>` with scopes `payments:write`,
`payments:read` or `admin` (local tokens: `smartpay token`). `POST /pay` and refunds
require an `Idempotency-Key` header. Errors are `{"error", "message", "fields"}`.

WebSocket `GET /ws?token=<JWT>` (scope `payments:read`) streams this merchant's
`payment_processed`, `reward_minted` and `fraud_detected` events as JSON objects
`{"id", "type", "merchant_id", "payment_id", "data", "ts"}`; send
`{"subscribe": [types]}` to narrow them.
"""
_bearer = HTTPBearer(auto_error=False, description="JWT from `smartpay token`")
_WHY = {400: "Idempotency-Key header missing or malformed",
        401: "missing, expired or invalid bearer token",
        403: "the token lacks the scope this operation needs",
        404: "no such payment for this merchant",
        409: "conflict: state or idempotency key in use with another body",
        413: "request body over the size cap (SMARTPAY_SERVING__MAX_BODY_BYTES)",
        422: "a field is invalid (named in `fields`); nothing was written",
        429: "rate limit exceeded; see Retry-After",
        503: "a dependency is unavailable; retry later"}


def _errors(*codes: int) -> dict:
    return {c: {"model": ErrorBody, "description": _WHY[c]} for c in codes}


# What each kind of operation can answer besides 200 (the schemathesis run holds the
# API to this list: an undocumented status fails it).
_ERRORS = _errors(401, 403, 404, 409, 413, 422, 429, 503)
_IDEMPOTENT = _errors(400, 401, 403, 404, 409, 413, 422, 429, 503)
_ADMIN = _errors(401, 403, 413, 422, 429, 503)
_ADMIN_409 = _errors(401, 403, 404, 409, 413, 422, 429, 503)
_OPEN = _errors(429, 503)
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
PaymentPath = Annotated[PaymentId, Path(max_length=64)]
UserPath = Annotated[UserId, Path(max_length=64)]
DecisionPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


async def rt_of(request: Request) -> Runtime:
    return request.app.state.rt


def _auth(scope: str):
    # async dependencies run on the event loop; sync ones would hop to a thread pool
    async def dep(request: Request,
                  cred: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        rt = request.app.state.rt
        who = await rt.verifier.verify(request.headers.get("authorization"))
        await rt.limiter.check_merchant(who.merchant_id)
        who.require(scope)
        return who
    return dep


Writer = Annotated[Principal, Depends(_auth("payments:write"))]
Reader = Annotated[Principal, Depends(_auth("payments:read"))]
Admin = Annotated[Principal, Depends(_auth("admin"))]
RT = Annotated[Runtime, Depends(rt_of)]


def create_app(factory: Callable[[], Runtime] | None = None) -> FastAPI:
    """The ASGI app; `factory` (or `app.state.factory`) builds the runtime at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        make = getattr(app.state, "factory", None) or factory
        if make is None:
            raise RuntimeError("create_app needs a runtime factory (or app.state.factory)")
        rt = make()
        rt = app.state.rt = (await rt) if inspect.isawaitable(rt) else rt
        app.state.hub = Hub()
        rt.bus.subscribe("websocket", app.state.hub.deliver)
        await rt.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await rt.aclose()

    app = FastAPI(title="SmartPay payment API", version="1.0.0", lifespan=lifespan,
                  description=_DESCRIPTION)
    app.add_middleware(BodyGuard)  # inside RequestContext: 413/422s get a request id
    app.add_middleware(obs.RequestContext)
    app.add_middleware(AddressLimit)  # outermost: before routing, auth and the body
    errors.install(app)
    _routes(app)
    webapp.mount(app)
    return app


def _routes(app: FastAPI) -> None:
    @app.get("/health", tags=["ops"], responses=_OPEN)
    async def health(rt: RT) -> dict:
        """Liveness plus which parts are wired (open, no auth)."""
        return {"status": "ok", "gateways": {n: ("open" if g.breaker_open() else "closed")
                                             for n, g in rt.gateways.items()},
                "rewards": rt.rewards is not None, "assistant": rt.assistant is not None}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse,
             responses=_OPEN)
    async def metrics(rt: RT) -> str:
        """Prometheus text format."""
        obs.DLQ_DEPTH.set(len(await rt.bus.dlq()))
        for n, g in rt.gateways.items():
            obs.BREAKER_OPEN.labels(n).set(int(g.breaker_open()))
        return obs.metrics_text()

    @app.post("/fraud", response_model=FraudResult, responses=_ERRORS, tags=["models"])
    async def fraud(body: FraudRequest, who: Writer, rt: RT) -> FraudResult:
        """Risk score, decision and top features of one transaction (cached 30 min)."""
        return await rt.payments.score(body)

    @app.post("/route", response_model=RouteResult, responses=_ERRORS, tags=["models"])
    async def route(body: RouteRequest, who: Writer, rt: RT) -> RouteResult:
        """The gateway the router picks for this payment context: a decision of its
        own, with its propensity and id (feedback names it)."""
        eligible = rt.payments.eligible(body.payment_method_type, body.currency,
                                        body.channel)
        return await rt.payments.route(body, eligible)

    @app.post("/route/{decision_id}/outcome", response_model=OutcomeAck, responses=_ERRORS,
              tags=["models"])
    async def route_outcome(decision_id: DecisionPath, body: RouteOutcome, who: Writer,
                            rt: RT) -> OutcomeAck:
        """The outcome of a payment you routed with /route and charged yourself: the
        router learns from it (a payment made through /pay reports its own)."""
        return await rt.payments.route_outcome(decision_id, body)

    @app.post("/pay", response_model=PaymentView, responses=_IDEMPOTENT,
              tags=["payments"])
    async def pay(body: PayRequest, who: Writer, rt: RT,
                  idempotency_key: IdemKey = None) -> dict:
        """Score, route, charge with failover, record, reward, announce. Idempotent."""
        key = check_key(idempotency_key)

        async def work() -> tuple[int, dict]:
            view = await rt.payments.pay(who, body, key)
            return 200, view.model_dump(mode="json")

        digest = body_hash("pay", body.model_dump(mode="json"))
        _, answer = await rt.idem.run(who.merchant_id, key, digest, work)
        return answer

    @app.get("/payments", response_model=list[PaymentView], responses=_ERRORS,
             tags=["payments"])
    async def list_payments(who: Reader, rt: RT,
                            limit: Annotated[int, Query(ge=1, le=200)] = 50,
                            status: PaymentStatus | None = None) -> list[PaymentView]:
        """This merchant's newest payments (every merchant's with the admin scope),
        newest first, optionally in one status."""
        merchant = None if "admin" in who.scopes else who.merchant_id
        rows = await rt.store.latest(merchant, status, limit)
        return [to_view(p) for p in rows]

    @app.get("/payments/{payment_id}", response_model=PaymentView, responses=_ERRORS,
             tags=["payments"])
    async def get_payment(payment_id: PaymentPath, who: Reader, rt: RT) -> PaymentView:
        """One of this merchant's payments with attempts and status history."""
        return to_view(await refunds.visible_payment(rt.payments, who, payment_id))

    @app.post("/payments/{payment_id}/refund", response_model=PaymentView,
              responses=_IDEMPOTENT, tags=["payments"])
    async def refund(payment_id: PaymentPath, body: RefundRequest, who: Writer, rt: RT,
                     idempotency_key: IdemKey = None) -> dict:
        """Refund all or part of a captured payment. Idempotent."""
        key = check_key(idempotency_key)

        async def work() -> tuple[int, dict]:
            view = await refunds.refund(rt.payments, who, payment_id, body.amount_minor,
                                        key)
            return 200, view.model_dump(mode="json")

        digest = body_hash(f"refund:{payment_id}", body.model_dump(mode="json"))
        _, answer = await rt.idem.run(who.merchant_id, f"refund:{key}", digest, work)
        return answer

    _reward_routes(app)
    _admin_routes(app)
    _view_routes(app)


def _reward_routes(app: FastAPI) -> None:
    @app.post("/reward", response_model=RewardInfo, responses=_ERRORS, tags=["rewards"])
    async def reward(body: RewardRequest, who: Writer, rt: RT) -> dict:
        """Mint (or return) the reward of a captured payment; idempotent per payment."""
        if rt.rewards is None:
            raise ApiError(503, "rewards_unavailable", "the rewards minter is not wired")
        p = await refunds.visible_payment(rt.payments, who, body.payment_id)
        if p["status"] != "captured":
            raise ApiError(409, "not_rewardable", f"payment {p['id']} is {p['status']}; "
                           "only captured payments earn rewards")
        return p["reward"] or await rt.payments.mint_reward(p)

    @app.get("/rewards/{user_id}/balance", response_model=BalanceView,
             responses=_ERRORS, tags=["rewards"])
    async def balance(user_id: UserPath, who: Reader, rt: RT) -> dict:
        """This merchant's user's token balance and escrow (cached 5 min)."""
        if rt.rewards is None:
            raise ApiError(503, "rewards_unavailable", "the rewards minter is not wired")
        account = f"{who.merchant_id}:{user_id}"
        hit = await rt.cache.get("balance", account)
        if hit is not None:
            return {**hit, "cached": True}
        got = await rt.rewards.balance(account)
        view = {"user_id": user_id, "balance": int(got.get("balance", 0)),
                "escrow": int(got.get("escrow", 0))}
        await rt.cache.set("balance", account, view)
        return view

    @app.post("/chat", response_model=ChatResponse, responses=_ERRORS, tags=["assistant"])
    async def chat(body: ChatRequest, who: Reader, rt: RT) -> dict:
        """Ask the payment assistant (answers cached 1 h)."""
        if rt.assistant is None:
            raise ApiError(503, "assistant_unavailable", "the assistant is switched off "
                           "in this deployment (SMARTPAY_SERVING__ASSISTANT=false); "
                           "payments and every other endpoint work")
        # No API-level cache here: the assistant caches per (merchant, user, question)
        # itself and knows when a new payment makes a cached answer stale.
        return await rt.assistant.answer(who.merchant_id, body.message, body.session_id,
                                         body.user_id)


def _window(window_s: int, bucket_s: int) -> datetime:
    """The start of a window of whole buckets ending with the current one."""
    if bucket_s > window_s or window_s // bucket_s > 600:
        raise ApiError(422, "invalid_request", "bucket_s must divide the window into "
                       "1 to 600 buckets", fields=["bucket_s"])
    now = datetime.now(timezone.utc)
    return datetime.fromtimestamp((now.timestamp() // bucket_s + 1) * bucket_s
                                  - window_s, timezone.utc)


def _scope(who: Principal) -> str | None:
    """The merchant whose data a reader sees; None (all) with the admin scope."""
    return None if "admin" in who.scopes else who.merchant_id


def _view_routes(app: FastAPI) -> None:
    """Read endpoints behind the web app's fraud, rewards and models pages."""

    @app.get("/fraud/stats", response_model=FraudStats, responses=_ERRORS,
             tags=["models"])
    async def fraud_view(who: Reader, rt: RT,
                         window_s: Annotated[int, Query(ge=10, le=86_400)] = 3_600,
                         bucket_s: Annotated[int, Query(ge=1, le=3_600)] = 60
                         ) -> FraudStats:
        """This merchant's (every merchant's with admin) risk score histogram, fraud
        declines and reviews per bucket over the last `window_s`, and the alerts
        those numbers fire."""
        since = _window(window_s, bucket_s)
        rows = await rt.store.scored_since(_scope(who), since)
        return fraud_stats(rows, since, window_s, bucket_s)

    @app.get("/rewards", response_model=RewardsView, responses=_ERRORS,
             tags=["rewards"])
    async def rewards_overview(who: Reader, rt: RT,
                               limit: Annotated[int, Query(ge=1, le=5_000)] = 1_000
                               ) -> RewardsView:
        """Per user of this merchant (every merchant's with admin): reward units in
        escrow, released and clawed back, over its newest `limit` payments with a user;
        and the newest reward entries."""
        if rt.rewards is None:
            raise ApiError(503, "rewards_unavailable",
                           "the rewards minter is not wired")
        payments = await rt.store.rewarded(_scope(who), limit)
        book = await rt.rewards.entries([p["id"] for p in payments]) if payments else []
        if _scope(who) is None:  # users of different merchants are different people
            payments = [{**p, "user_id": f"{p['merchant_id']}:{p['user_id']}"}
                        for p in payments]
        return rewards_view(payments, book, rt.rewards.decimals)

    @app.get("/admin/models", response_model=ModelsView, responses=_ADMIN,
             tags=["models"])
    async def models(who: Admin, rt: RT) -> ModelsView:
        """Champion and challenger of each model with run metrics, gate verdicts and
        the fraud champion's score drift over the last 24 h; links to the MLflow UI."""
        since = datetime.now(timezone.utc) - timedelta(days=1)
        scores = [s for _, s, _, _ in await rt.store.scored_since(None, since)
                  if s is not None]
        return await asyncio.to_thread(read_models, rt.settings.tracking_uri,
                                       rt.settings.serving.mlflow_ui_url, scores)


def _admin_routes(app: FastAPI) -> None:
    @app.get("/admin/dlq", tags=["ops"], responses=_ADMIN)
    async def dlq(who: Admin, rt: RT) -> list[dict]:
        """Events whose delivery failed after retries."""
        return await rt.bus.dlq()

    @app.post("/admin/dlq/replay", tags=["ops"], responses=_ADMIN)
    async def replay(who: Admin, rt: RT) -> dict:
        """Deliver the dead letters again; the ones that succeed leave the queue."""
        return await rt.bus.replay()

    @app.get("/admin/gateways", response_model=GatewayStats, tags=["ops"],
             responses=_ADMIN)
    async def gateways(who: Admin, rt: RT,
                       window_s: Annotated[int, Query(ge=10, le=86_400)] = 600,
                       bucket_s: Annotated[int, Query(ge=1, le=3_600)] = 10) -> GatewayStats:
        """Per gateway: attempts, approval rate and routed latency per time bucket over
        the last `window_s`; the router's split and exploration share; breakers now."""
        since = _window(window_s, bucket_s)
        attempts, decisions = await rt.store.traffic(since)
        breakers = {n: g.breaker_open() for n, g in rt.gateways.items()}
        return gateway_stats(attempts, decisions, breakers, since, window_s, bucket_s)

    @app.get("/admin/reviews", response_model=list[PaymentView], tags=["payments"],
             responses=_ADMIN)
    async def reviews(who: Admin, rt: RT,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[PaymentView]:
        """Payments held for review (authorized, not captured), longest held first."""
        return await rt.payments.held(limit)

    @app.post("/payments/{payment_id}/review", response_model=PaymentView,
              tags=["payments"], responses=_ADMIN_409)
    async def review(payment_id: PaymentPath, body: ReviewRequest, who: Admin,
                     rt: RT) -> PaymentView:
        """An operator's verdict on a held payment: approve captures it, reject voids
        it. A repeat of the verdict that won answers the payment; another verdict, or
        a payment not held for review, is 409."""
        return await rt.payments.review(who, payment_id, body.verdict, body.note)

    @app.websocket("/ws")
    async def events(ws: WebSocket) -> None:
        """Live `payment_processed`, `reward_minted`, `fraud_detected` of this merchant."""
        rt = ws.app.state.rt
        try:
            who = await rt.verifier.verify(ws_credentials(ws))
            who.require("payments:read")
        except ApiError as exc:
            await ws.close(code=4401 if exc.status == 401 else 4403, reason=exc.message[:120])
            return
        await ws.app.state.hub.serve(ws, who)
