"""The card bootstrap against hand-enumerated resamples and against sklearn."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from models.fraud.bootstrap import CardBootstrap, ScoredSet
from models.fraud.estimators import BASELINES, TUNED
from models.fraud.evaluation import WeekResult, summarise
from models.fraud.metrics import card_precision_top_k

AUC, AP, CP = 0, 1, 2


def _two_cards(scores: dict[str, list[float]]) -> ScoredSet:
    """Card 0 = A: a fraud then a genuine row; card 1 = B: the same; one day."""
    return ScoredSet(y=np.array([1, 0, 1, 0]), card=np.array([0, 0, 1, 1]),
                   day=np.zeros(4, np.int64),
                   scores={m: np.array(s) for m, s in scores.items()})


def test_resamples_are_whole_cards_with_the_hand_enumerated_auc_and_ap():
    # Resamples of 2 cards: AA, BB (each 1/4) keep one card twice -> AUC 1, AP 1;
    # AB or BA (1/2) keep both: fraud .9, genuine .8, fraud .7, genuine .6 ->
    # AUC 3/4 (.7 < .8 is the one wrong pair), AP .5 * 1 + .5 * 2/3.
    # A row resample would also give e.g. AUC 0 (fraud .7 with genuine .8 only).
    boot = CardBootstrap([_two_cards({"x": [0.9, 0.8, 0.7, 0.6]})], ["x"], k=1)
    assert boot.point()[0, 0, AUC] == 0.75
    samples = boot.run(2000, seed=1)[:, 0, 0]
    assert set(np.round(samples[:, AUC], 9)) == {0.75, 1.0}
    assert set(np.round(samples[:, AP], 9)) == {round(0.5 + 0.5 * 2 / 3, 9), 1.0}
    assert np.mean(samples[:, AUC] == 1.0) == pytest.approx(0.5, abs=0.04)


def test_paired_differences_use_the_same_cards_for_both_models():
    # y ranks B's rows the wrong way round. AA: both AUC 1 -> diff 0; BB: x 1, y 0
    # -> 1; AB: x 3/4, y 1/2 -> 1/4. Independent resamples would also give e.g. 1/2.
    sets = [_two_cards({"x": [0.9, 0.8, 0.7, 0.6], "y": [0.9, 0.8, 0.6, 0.7]})]
    samples = CardBootstrap(sets, ["x", "y"], k=1).run(2000, seed=2)[:, 0]
    diffs = np.round(samples[:, 0, AUC] - samples[:, 1, AUC], 9)
    assert set(diffs) == {0.0, 0.25, 1.0}


def test_a_card_drawn_twice_counts_twice_among_the_top_k():
    # One day, k = 2: fraud card A (.9) and genuine card B (.8).
    # AA -> both top slots are A: 2/2; AB -> 1/2; BB -> 0.
    test = ScoredSet(y=np.array([1, 0]), card=np.array([0, 1]), day=np.zeros(2, np.int64),
                   scores={"x": np.array([0.9, 0.8])})
    samples = CardBootstrap([test], ["x"], k=2).run(500, seed=3)[:, 0, 0, CP]
    assert set(samples) == {0.0, 0.5, 1.0}


def test_weeks_of_one_world_share_the_draw_and_other_worlds_do_not():
    rng = np.random.default_rng(0)
    n = 400
    y, card = (rng.random(n) < 0.2).astype(int), rng.integers(0, 50, n)
    day, s = rng.integers(0, 3, n), {"x": rng.random(n) + y * 0.3}
    same = [ScoredSet(y, card, day, s, world=0), ScoredSet(y, card, day, s, world=0)]
    other = [ScoredSet(y, card, day, s, world=0), ScoredSet(y, card, day, s, world=1)]
    a = CardBootstrap(same, ["x"], k=5).run(20, seed=4)
    b = CardBootstrap(other, ["x"], k=5).run(20, seed=4)
    assert np.array_equal(a[:, 0], a[:, 1])
    assert not np.array_equal(b[:, 0], b[:, 1])


def test_weighted_metrics_equal_sklearn_with_sample_weights_and_metrics_py_unweighted():
    rng = np.random.default_rng(5)
    n = 3000
    y, card, day = (rng.random(n) < 0.1).astype(int), rng.integers(0, 300, n), \
        rng.integers(0, 7, n)
    score = np.round(rng.random(n) + 0.4 * y, 2)  # many ties
    boot = CardBootstrap([ScoredSet(y, card, day, {"x": score})], ["x"], k=20)
    point = boot.point()[0, 0]
    assert point[AUC] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert point[AP] == pytest.approx(average_precision_score(y, score), abs=1e-12)
    assert point[CP] == pytest.approx(card_precision_top_k(day, card, y, score, k=20))
    w = rng.integers(0, 4, 300)[card].astype(float)
    auc, ap = boot._ranked[0]["x"].auc_ap(w)
    assert auc == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-12)
    assert ap == pytest.approx(average_precision_score(y, score, sample_weight=w),
                               abs=1e-12)


def _week(rng, tuned_signal: float, label: str) -> WeekResult:
    n = 2000
    y, card = (rng.random(n) < 0.1).astype(int), rng.integers(0, 500, n)
    base = rng.random(n) + 0.5 * y
    scores = {b: base for b in BASELINES}
    scores[TUNED] = base + tuned_signal * y
    test = ScoredSet(y, card, rng.integers(0, 7, n), scores)
    return WeekResult(label, test, card, n, int(y.sum()))


@pytest.mark.parametrize("signal, wins", [(0.0, False), (1.0, True)])
def test_a_win_is_claimed_only_when_the_paired_interval_is_above_zero(signal, wins):
    rng = np.random.default_rng(6)
    report = summarise([_week(rng, signal, "w1"), _week(rng, signal, "w2")], n_boot=200)
    paired = report["pooled"]["paired"]["xgboost_tuned-random_forest"]["ap"]
    assert paired["win"] is wins
    assert (paired["lo"] > 0) is wins
    assert report["pooled"]["positives"] == sum(w["positives"] for w in report["weeks"])


def test_blind_spot_recall_counts_frauds_flagged_at_the_review_threshold():
    from models.fraud.blind_spot import blind_spot

    y = np.array([1, 1, 1, 1, 1, 0])
    blind = np.array([True, True, False, False, False, False])
    tuned = np.array([0.9, 0.1, 0.6, 0.4, 0.8, 0.95])  # caught: first, third, fifth
    test = ScoredSet(y, np.arange(6), None, {TUNED: tuned})
    out = blind_spot([WeekResult("w", test, np.arange(6), 6, 5, blind, review={TUNED: 0.5})],
                     TUNED)
    assert out["first_week_frauds"] == 2 and out["frauds"] == 5
    assert out["recall_first_week"] == 0.5
    assert out["recall_other"] == pytest.approx(2 / 3, abs=1e-6)


def _two_card_blind_week() -> WeekResult:
    """Card 0 and card 1 each have one first-week fraud and one genuine row; model A
    catches card 0's fraud, model B card 1's."""
    y = np.array([1, 0, 1, 0])
    test = ScoredSet(y, np.array([0, 0, 1, 1]), None,
                     {"a": np.array([0.9, 0.1, 0.2, 0.1]),
                      "b": np.array([0.2, 0.1, 0.9, 0.1])})
    return WeekResult("w", test, np.arange(4), 4, 2, np.array([True, False, True, False]),
                      review={"a": 0.5, "b": 0.5})


def test_blind_spot_recall_resamples_pair_the_models_on_the_same_card_draws():
    from models.fraud.blind_spot import blind_spot_intervals, recall_samples

    week = _two_card_blind_week()
    boot = CardBootstrap([week.test], ["a", "b"])
    s = recall_samples([week], boot, 400, 0, ["a", "b"])
    # Draws of two cards are (2, 0), (1, 1) or (0, 2): A's recall is 1, 1/2 or 0 and
    # B's the mirror, so paired differences are 1, 0 or -1 and never +-1/2.
    diff = s["a"][:, 0] - s["b"][:, 0]
    assert set(np.round(diff, 6)) <= {-1.0, 0.0, 1.0}
    assert np.mean(diff == 0) == pytest.approx(0.5, abs=0.08)
    spots, paired = blind_spot_intervals([week], boot, 400, 0, ["a", "b"], [("a", "b")])
    assert spots["a"]["recall_first_week"] == 0.5
    assert spots["a"]["recall_first_week_ci"] == [0.0, 1.0]
    assert paired["a-b"]["recall_first_week"] == {"value": 0.0, "ci": [-1.0, 1.0]}


def test_challenger_variants_are_paired_as_challenger_minus_tuned():
    from models.fraud.evaluation import _pairs

    models = [*BASELINES, TUNED, "handbook", "early"]
    pairs = _pairs(models, challengers=("early",))
    assert ("early", TUNED) in pairs and (TUNED, "handbook") in pairs
    assert all((TUNED, b) in pairs for b in BASELINES) and len(pairs) == 5
