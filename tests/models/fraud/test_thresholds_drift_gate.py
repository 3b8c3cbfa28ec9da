"""Thresholds meet the false-positive budget; PSI sees shifts; the gate decides."""

import numpy as np
import pandas as pd

from models.fraud import drift
from models.fraud.behaviour import Check
from models.fraud.gate import decide
from models.fraud.thresholds import FpBudget, choose_thresholds, threshold_for_fp_rate


def test_thresholds_flag_no_more_genuine_than_the_budget_allows():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(10_000), np.ones(100)]
    s = np.r_[rng.beta(1, 20, 10_000), rng.beta(5, 2, 100)]
    t = choose_thresholds(y, s, FpBudget(review_fp_rate=0.02, decline_fp_rate=0.002))
    assert (s[y == 0] >= t.review).mean() <= 0.02
    assert (s[y == 0] >= t.decline).mean() <= 0.002
    assert t.decline >= t.review
    assert t.review_recall >= t.decline_recall > 0


def test_threshold_is_just_above_the_first_genuine_score_beyond_the_budget():
    genuine = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    t = threshold_for_fp_rate(genuine, 0.1)  # one false positive allowed: only .95
    assert 0.9 < t <= 0.95


def test_decisions_follow_thresholds():
    t = choose_thresholds(np.array([0] * 1000 + [1]), np.r_[np.linspace(0, 0.5, 1000), 0.9],
                          FpBudget(review_fp_rate=0.1, decline_fp_rate=0.01))
    assert t.decide(0.0) == "approve"
    assert t.decide(t.review) == "review"
    assert t.decide(0.99) == "decline"


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 20_000)})
    prof = drift.profile(ref, ["x"], rng.random(20_000))
    same = drift.report(prof, pd.DataFrame({"x": rng.normal(0, 1, 20_000)}),
                        rng.random(20_000))
    moved = drift.report(prof, pd.DataFrame({"x": rng.normal(1, 1, 20_000)}),
                         rng.random(20_000) ** 3)
    assert same["x"]["psi"] < 0.01 and same["x"]["status"] == "stable"
    assert moved["x"]["psi"] > 0.25 and moved["x"]["status"] == "shift"
    assert moved["score"]["status"] != "stable"


PASS = [Check("amount_x5_raises_score", True, "ok")]


def test_gate_refuses_a_challenger_worse_than_the_champion_beyond_tolerance():
    d = decide(0.60, 0.70, PASS, tolerance=0.01)
    assert not d.promote and "refused" in d.reasons[0]


def test_gate_accepts_a_challenger_within_tolerance():
    assert decide(0.695, 0.70, PASS, tolerance=0.01).promote


def test_gate_refuses_a_better_challenger_that_fails_a_behaviour_check():
    d = decide(0.9, 0.7, [Check("renamed_ids_keep_score", False, "scores changed")])
    assert not d.promote and any("FAILED" in r for r in d.reasons)


def test_gate_accepts_the_first_model_when_there_is_no_champion():
    d = decide(0.5, None, PASS + [Check("risky_terminal_raises_score", None, "skipped")])
    assert d.promote and "no champion" in d.reasons[0]


def test_gate_refuses_when_the_champion_cannot_score_the_window():
    assert not decide(0.9, None, PASS, champion_problem="missing x").promote
