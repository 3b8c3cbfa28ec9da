"""Promotion gate: may a challenger replace the champion? (pure decision + reasons)

A challenger is promoted only if its Average Precision on the challenger's own recent
test window is not worse than the champion's AP on that same window by more than the
tolerance, and it passes every behaviour check that applies to it.
"""

from __future__ import annotations

from pydantic import BaseModel

from models.fraud.behaviour import Check


class GateDecision(BaseModel):
    """The verdict and every reason behind it (logged as is)."""

    promote: bool
    reasons: list[str]
    challenger_ap: float | None
    champion_ap: float | None
    tolerance: float
    checks: dict[str, bool | None]


def decide(
    challenger_ap: float, champion_ap: float | None, checks: list[Check],
    tolerance: float = 0.01, champion_problem: str | None = None,
) -> GateDecision:
    """Combine the AP comparison and the behaviour checks into one decision."""
    reasons, ok = [], True
    if champion_problem:
        ok = False
        reasons.append(f"refused: champion cannot be compared ({champion_problem})")
    elif champion_ap is None:
        reasons.append(f"no champion yet: challenger AP {challenger_ap:.4f} accepted")
    elif challenger_ap < champion_ap - tolerance:
        ok = False
        reasons.append(f"refused: challenger AP {challenger_ap:.4f} < champion AP "
                       f"{champion_ap:.4f} - tolerance {tolerance}")
    else:
        reasons.append(f"AP ok: challenger {challenger_ap:.4f} vs champion "
                       f"{champion_ap:.4f} (tolerance {tolerance})")
    for c in checks:
        verdict = "skipped" if c.passed is None else "passed" if c.passed else "FAILED"
        reasons.append(f"behaviour {c.name} {verdict}: {c.detail}")
        ok &= c.passed is not False
    return GateDecision(promote=ok, reasons=reasons, challenger_ap=challenger_ap,
                        champion_ap=champion_ap, tolerance=tolerance,
                        checks={c.name: c.passed for c in checks})
