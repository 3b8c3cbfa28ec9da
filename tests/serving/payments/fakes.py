"""In-memory fakes of the payment domain's ports, for unit tests that run in
milliseconds: the ledger (`FakeStore`, in `fake_ledger`), gateways, fraud scorer,
router, rewards, cache and clock. Each is scripted per call or computes what the real
one would, and records what it was asked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from serving.ports import GatewayResult
from serving.schemas import (
    FraudRequest, FraudResult, FraudThresholds, RouteRequest, RouteResult, RouterDecision,
)
from tests.serving.payments.fake_ledger import (
    Commit, DuplicateEvent, FakeClock, FakeStore,
)

__all__ = ["Commit", "DuplicateEvent", "FakeCache", "FakeClock", "FakeFraud",
           "FakeGateway", "FakeRewards", "FakeRouter", "FakeStore"]

_OPEN = GatewayResult("failed", None, "breaker_open", "circuit open")


@dataclass
class FakeGateway:
    """A gateway that remembers its charges. A call answers with the next result
    scripted for its method (`script`; an exception is raised instead) or, when none
    is left, with what a gateway would say given the charges it has seen. An open
    breaker refuses every call before it is sent, as `ResilientGateway` does."""

    name: str
    methods: frozenset[str] = frozenset({"card"})
    currencies: frozenset[str] | None = None
    breaker: bool = False
    pre_ref: str | None = None  # a reference `prepare` knows before the charge
    calls: list[tuple] = field(default_factory=list)
    charges: dict[str, dict] = field(default_factory=dict)  # by gateway_ref
    _script: dict[str, list] = field(default_factory=dict)

    def script(self, method: str, *results: GatewayResult | Exception) -> FakeGateway:
        self._script.setdefault(method, []).extend(results)
        return self

    def called(self, method: str) -> list[tuple]:
        """The arguments of each call of `method`, in order."""
        return [c[1:] for c in self.calls if c[0] == method]

    def breaker_open(self) -> bool:
        return self.breaker

    def accepts(self, method_type: str, currency: str, channel: str) -> bool:
        return method_type in self.methods and (
            self.currencies is None or currency in self.currencies)

    def _scripted(self, method: str, *args) -> GatewayResult | None:
        self.calls.append((method, *args))
        if self.breaker and method == "status":  # how the adapter reads it
            return GatewayResult("pending", args[1], "breaker_open", "circuit open")
        if self.breaker and method != "prepare":
            return _OPEN
        queued = self._script.get(method)
        if not queued:
            return None
        out = queued.pop(0)
        if isinstance(out, Exception):
            raise out
        return out

    async def prepare(self, reference, amount_minor, currency, method_type, token,
                      capture=True):
        out = self._scripted("prepare", reference)
        return out if out is not None else (token, self.pre_ref)

    async def authorize(self, reference, amount_minor, currency, method_token,
                        capture=True):
        out = self._scripted("authorize", reference, amount_minor)
        if out is not None:
            return out
        ref = f"{self.name}_ch_{len(self.charges) + 1}"
        self.charges[ref] = {"reference": reference, "state": "authorized",
                             "amount": amount_minor, "refunded": 0}
        return GatewayResult("authorized", ref)

    async def capture(self, reference, gateway_ref, amount_minor):
        out = self._scripted("capture", reference, gateway_ref, amount_minor)
        return out or self._move(gateway_ref, "captured", reference, amount_minor)

    async def void(self, reference, gateway_ref):
        out = self._scripted("void", reference, gateway_ref)
        return out or self._move(gateway_ref, "voided", reference)

    async def refund(self, reference, gateway_ref, amount_minor, refund_key):
        out = self._scripted("refund", gateway_ref, amount_minor, refund_key)
        if out is not None:
            return out
        charge = self.charges.get(gateway_ref)
        if charge is None or charge["refunded"] + amount_minor > charge["amount"]:
            return GatewayResult("failed", None, "gateway", "more than the charge left")
        charge["refunded"] += amount_minor
        return GatewayResult("refunded", f"re_{refund_key}")

    async def status(self, reference, gateway_ref):
        out = self._scripted("status", reference, gateway_ref)
        if out is not None:
            return out
        mine = [(r, c) for r, c in self.charges.items() if c["reference"] == reference]
        if not mine:
            return GatewayResult("not_found")
        ref, charge = mine[-1]
        return GatewayResult(charge["state"], ref)

    def _move(self, gateway_ref, state, reference, amount=0) -> GatewayResult:
        charge = self.charges.setdefault(gateway_ref, {
            "reference": reference, "state": state, "amount": amount, "refunded": 0})
        charge["state"] = state
        return GatewayResult(state, gateway_ref)


@dataclass
class FakeFraud:
    """A scorer that gives every transaction the same risk and decision."""

    risk: float = 0.1
    decision: str = "approve"
    down: bool = False
    thresholds: FraudThresholds | None = None
    calls: list[FraudRequest] = field(default_factory=list)

    async def score(self, request: FraudRequest) -> FraudResult:
        self.calls.append(request)
        if self.down:
            raise ConnectionError("fraud scorer unreachable")
        return FraudResult(risk_score=self.risk, decision=self.decision,
                           top_features=[{"feature": "amount",
                                          "contribution": self.risk}],
                           model_version="fake-1", thresholds=self.thresholds)


@dataclass
class FakeRouter:
    """Ranks the eligible gateways by a fixed preference; records its feedback."""

    prefer: list[str] = field(default_factory=list)
    down: bool = False
    decisions: list[tuple] = field(default_factory=list)
    feedback_calls: list[tuple] = field(default_factory=list)

    async def decide(self, request: RouteRequest, eligible: list[str]) -> RouteResult:
        self.decisions.append((request, list(eligible)))
        if self.down:
            raise ConnectionError("router unreachable")
        ranking = ([g for g in self.prefer if g in eligible]
                   + [g for g in eligible if g not in self.prefer])
        return RouterDecision(gateway=ranking[0], probability=0.9, ranking=ranking,
                              decision_id=f"d{len(self.decisions)}",
                              record={"policy_version": "fake-vw", "segment": "s"})

    async def feedback(self, decision_id, gateway, success, latency_ms, amount_minor,
                       currency) -> dict:
        self.feedback_calls.append((decision_id, gateway, success))
        if self.down:
            raise ConnectionError("router unreachable")
        return {"learned": True}


@dataclass
class FakeRewards:
    """Mints 1 unit per 10 major units into escrow, once per payment, and claws back
    the refunded share rounded up, like SmartReward."""

    down: bool = False
    minted: dict[str, dict] = field(default_factory=dict)
    refunds: list[tuple] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)

    async def mint(self, payment_id, user, amount_minor, currency) -> dict:
        if self.down:
            raise ConnectionError("chain unreachable")
        rec = self.minted.setdefault(payment_id, {
            "units": amount_minor // 1_000, "amount_minor": amount_minor,
            "status": "escrowed", "signature": f"sig-{payment_id}", "user": user})
        return {k: rec[k] for k in ("units", "status", "signature")}

    async def mint_many(self, claims) -> list[dict]:
        self.batches.append([c[0] for c in claims])
        return [await self.mint(*c) for c in claims]

    def units(self, amount_minor, currency) -> int:
        return amount_minor // 1_000

    async def on_refund(self, payment_id, refunded_minor, user) -> dict:
        self.refunds.append((payment_id, refunded_minor, user))
        rec = self.minted[payment_id]
        original = rec["amount_minor"] // 1_000
        clawed = min(original, -(-original * refunded_minor // rec["amount_minor"]))
        rec["units"] = original - clawed
        rec["status"] = "escrowed" if rec["units"] else "clawed_back"
        return {"units": rec["units"], "status": rec["status"]}

    async def balance(self, user) -> dict:
        escrow = sum(r["units"] for r in self.minted.values() if r["user"] == user)
        return {"balance": 0, "escrow": escrow}


class FakeCache:
    """JSON text in a dict, like `LocalCache` without expiry."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    async def get(self, ns: str, key: str) -> Any | None:
        hit = self.data.get((ns, key))
        return None if hit is None else json.loads(hit)

    async def set(self, ns: str, key: str, value: Any) -> None:
        self.data[(ns, key)] = json.dumps(value)

    async def delete(self, ns: str, key: str) -> None:
        self.data.pop((ns, key), None)

    async def close(self) -> None:
        self.data.clear()
