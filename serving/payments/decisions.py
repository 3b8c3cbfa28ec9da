"""Pure decisions of the payment domain: no I/O, no clock, no framework.

Each function answers one question the service asks while a payment moves, so every
money rule can be read (and unit-tested) apart from the ports that carry it out.
"""

from __future__ import annotations

from typing import Literal

from serving.ports import GatewayResult

Next = Literal["done", "failover", "pending", "stop"]


def decline_reason(risk: float, model_version: str, decline_at: float | None) -> str:
    """Why the fraud model declined a payment, naming the version and its threshold
    (the policy is the model's own: each version carries its thresholds)."""
    version = f"fraud-detector v{model_version}" if model_version else "the fraud model"
    if decline_at is None:
        return f"{version} declined it (risk {risk:.4f})"
    return f"{version} declined it: risk {risk:.4f} >= its decline threshold {decline_at:.4f}"


def logged_decision(decision) -> dict | None:
    """The decision-log row of a routing decision (None without the router's record:
    the static fallback order, or a router that keeps none)."""
    record = getattr(decision, "record", None)
    if not record:
        return None
    return {"decision_id": decision.decision_id, "gateway": decision.gateway,
            "propensity": decision.probability, "record": record,
            "policy_version": str(record.get("policy_version", ""))[:64] or None}


def decision_outcome(decision_id: str, routed: GatewayResult,
                     latency_ms: float) -> dict | None:
    """The routed attempt's outcome for the decision log: success when the gateway
    captured (or authorized a hold); None while the outcome is unknown, so no
    decision is logged with a guessed label."""
    if next_step(routed) == "pending":
        return None
    return {"did": decision_id, "success": routed.state in ("captured", "authorized"),
            "latency_ms": round(latency_ms, 3), "outcome": routed.state}


def next_step(result: GatewayResult) -> Next:
    """What one gateway attempt's outcome means for the payment.

    Only a definite answer ends an attempt: captured is done, a hard decline stops.
    A soft decline, an open breaker or a call that provably never reached the gateway
    fails over. Anything whose outcome is unknown (a timeout after sending, a dropped
    answer, a pending status) stays pending for status sync: failing over then could
    charge the customer twice.
    """
    if result.state == "captured":
        return "done"
    if result.state == "pending" or result.error_class == "timeout":
        return "pending"
    if result.error_class in ("soft", "breaker_open", "unreachable"):
        return "failover"
    if result.error_class == "gateway" and result.state == "failed":
        return "failover"
    return "stop"


def settled_status(result: GatewayResult | None,
                   hold: bool = False) -> tuple[str, str | None]:
    """The payment's status after its last attempt, and the reason kept with it. A
    held payment (sent to review) ends its attempts authorized: `review`."""
    if result is None:
        return "failed", "no gateway was tried"
    if result.state == "captured":
        return "captured", None
    if hold and result.state == "authorized":
        return "review", "held for review"
    if next_step(result) == "pending":
        return "pending", (result.message or "the gateway's answer is unknown")[:250]
    status = "declined" if result.error_class == "hard" else "failed"
    return status, (result.message or result.state)[:250]


def refund_amount(requested: int | None, amount_minor: int, refunded_minor: int) -> int:
    """The amount a refund asks for: all that is left when none is given. The cap
    itself is enforced by the store's conditional update, not here."""
    return requested if requested is not None else amount_minor - refunded_minor


def verdict_outcome(verdict: str, result: GatewayResult) -> str | None:
    """The status a review verdict's gateway call ends in (`verdict` is the claimed
    status, capturing or voiding), or None while its outcome is unknown or the hold
    is still there (status sync asks again). A capture the gateway refused for good
    (the authorization expired, say) fails the payment; a void of a hold that is gone
    is done, and money that was captured after all is captured."""
    state = result.state
    if state == "captured":
        return "captured"
    if state == "voided":
        return "voided"
    if state in ("pending", "authorized", "not_found") or result.error_class in (
            "timeout", "unreachable", "breaker_open"):
        return None
    return "failed" if verdict == "capturing" else "voided"


def synced_result(found: GatewayResult, attempt_age_s: float,
                  consistency_window_s: float) -> GatewayResult:
    """How status sync reads a gateway's answer about an attempt. "Not found" means
    "never charged" only once the gateway's consistency window has passed; before
    that it is still unknown."""
    if found.state != "not_found":
        return found
    if attempt_age_s < consistency_window_s:
        return GatewayResult("pending", None, "timeout", "not visible at the gateway yet")
    return GatewayResult("failed", None, "gateway", "the gateway never saw the charge")
