"""Metrics against hand-computed small cases (handbook definitions)."""

import numpy as np
import pytest

from models.fraud.metrics import (
    auc_roc, average_precision, card_precision_per_day, card_precision_top_k, evaluate)


def test_auc_counts_correctly_ordered_fraud_genuine_pairs():
    # pairs (fraud, genuine): (.35,.1) ok, (.35,.4) wrong, (.8,.1) ok, (.8,.4) ok -> 3/4
    assert auc_roc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75


def test_average_precision_sums_precision_at_each_recall_step():
    # ranked: .8 fraud (P=1, R=.5), .4 genuine, .35 fraud (P=2/3, R=1) -> .5*1 + .5*2/3
    ap = average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)


def _two_days():
    # day 0: card A's best score .9 is genuine but its other tx is fraud -> A counts
    #        as compromised (max of label per card); B .8 genuine; C .7 fraud.
    # day 1: A .95 fraud (already detected on day 0), C .6 fraud, D .5 / B .2 genuine.
    day = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    card = np.array(["A", "A", "B", "C", "A", "C", "D", "B"])
    y = np.array([0, 1, 0, 1, 1, 1, 0, 0])
    s = np.array([0.9, 0.3, 0.8, 0.7, 0.95, 0.6, 0.5, 0.2])
    return day, card, y, s


def test_card_precision_uses_each_cards_max_score_and_max_label():
    day, card, y, s = _two_days()
    # day 0 top-2 cards: A (fraud), B (genuine) -> 1/2
    assert card_precision_per_day(day, card, y, s, k=2)[0] == 0.5


def test_card_precision_removes_cards_detected_on_earlier_days():
    day, card, y, s = _two_days()
    # day 1 without A (found on day 0): C (fraud), D (genuine) -> 1/2, not A+C = 1
    assert card_precision_per_day(day, card, y, s, k=2) == [0.5, 0.5]
    assert card_precision_top_k(day, card, y, s, k=2) == 0.5


def test_card_precision_divides_by_k_even_when_fewer_cards_exist():
    assert card_precision_top_k(np.array([0]), np.array([7]), np.array([1]),
                                np.array([0.9]), k=100) == 0.01


def test_evaluate_reports_no_cp100_without_a_card_column():
    out = evaluate(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8]))
    assert out == {"auc": 1.0, "ap": 1.0, "cp100": None}
