"""`retrain router`'s log assembly: extra (simulated) logs first, served decisions last,
so the held-out part the gate evaluates is the newest served traffic."""

from __future__ import annotations

import pandas as pd

from cli.router_retrain_cmds import combined_log


def _log(ids, start, truth=False):
    df = pd.DataFrame({"transaction_id": ids,
                       "timestamp": pd.date_range(start, periods=len(ids), freq="min", tz="UTC"),
                       "success": True})
    if truth:
        df["p_true__stripe"] = 0.9
    return df


def test_served_decisions_come_last_and_simulated_truth_is_dropped():
    served = _log(["s1", "s2"], "2026-12-01")
    simulated = _log(["x1", "x2", "x3"], "2026-01-01", truth=True)
    log = combined_log(served, [simulated])
    assert list(log["transaction_id"]) == ["x1", "x2", "x3", "s1", "s2"]
    assert not [c for c in log if c.startswith("p_true__")]


def test_simulated_logs_alone_keep_their_truth():
    log = combined_log(None, [_log(["b"], "2026-01-02", True), _log(["a"], "2026-01-01", True)])
    assert list(log["transaction_id"]) == ["a", "b"] and "p_true__stripe" in log
