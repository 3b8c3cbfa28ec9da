"""The payment state machine as data: which status may follow which.

created -> authorized -> captured -> refunded, with declined and failed as the other
endings. A partial refund keeps a payment `captured` (recorded as captured -> captured).
`pending` means a gateway call's outcome is unknown (a timeout after sending, a dropped
connection); status sync resolves it later, so it may move to any outcome or stay.

A payment the fraud model sends to review is authorized and held: `review`. An
operator's verdict (or the deadline's default) claims it by moving it to `capturing` or
`voiding` (one claim wins: the move is checked under the row lock), and the gateway
call's outcome ends it `captured` or `voided`; an unknown outcome leaves it capturing
or voiding, in flight, for status sync.
"""

from __future__ import annotations

from smartpay.errors import SmartPayError

ALLOWED: dict[str, frozenset[str]] = {
    "created": frozenset({"authorized", "declined", "failed", "pending"}),
    "authorized": frozenset({"authorized", "captured", "failed", "pending", "review"}),
    "pending": frozenset({"authorized", "captured", "declined", "failed", "pending",
                          "review"}),
    "review": frozenset({"capturing", "voiding"}),
    "capturing": frozenset({"captured", "failed", "voided"}),
    "voiding": frozenset({"voided", "captured"}),
    "captured": frozenset({"captured", "refunded"}),
    "declined": frozenset(),
    "failed": frozenset(),
    "voided": frozenset(),
    "refunded": frozenset(),
}
FINAL = frozenset({"captured", "declined", "failed", "voided", "refunded"})
IN_FLIGHT = frozenset({"created", "authorized", "pending", "capturing", "voiding"})


class IllegalTransition(SmartPayError):
    """A status change the state machine forbids (e.g. refunding a declined payment)."""

    def __init__(self, payment_id: str, current: str, wanted: str) -> None:
        self.payment_id, self.current, self.wanted = payment_id, current, wanted
        allowed = ", ".join(sorted(ALLOWED.get(current, ()))) or "nothing (final)"
        super().__init__(
            f"payment {payment_id}: cannot go from {current} to {wanted}; "
            f"expected one of: {allowed}"
        )


def can_move(current: str, wanted: str) -> bool:
    """True when `wanted` may follow `current`."""
    return wanted in ALLOWED.get(current, frozenset())
