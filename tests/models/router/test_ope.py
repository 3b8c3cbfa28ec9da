"""Off-policy estimators on a synthetic bandit whose policy values are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from models.router.ope import doubly_robust, ips, snips

# Two context types, three actions: true success probabilities.
P = np.array([[0.90, 0.80, 0.95], [0.70, 0.92, 0.85]])
TARGET = np.array([[0.1, 0.1, 0.8], [0.1, 0.8, 0.1]])  # a good stochastic policy
TRUE_VALUE = float((0.5 * (TARGET * P).sum(axis=1)).sum())


def _logged(rng, n=4000):
    x = rng.integers(0, 2, n)
    mu = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])[x]  # non-uniform logging
    a = (rng.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1)
    r = (rng.random(n) < P[x, a]).astype(float)
    return x, a, r, mu[np.arange(n), a]


def _estimates(seed, biased_model=False):
    rng = np.random.default_rng(seed)
    x, a, r, mu = _logged(rng)
    pi = TARGET[x]
    q = np.full_like(pi, 0.5) if biased_model else P[x] + rng.normal(0, 0.05, pi.shape)
    target = pi[np.arange(len(a)), a]
    return (ips(r, mu, target), snips(r, mu, target), doubly_robust(r, mu, a, pi, q))


@pytest.mark.parametrize("which,name", [(0, "ips"), (1, "snips"), (2, "dr")])
def test_estimator_is_unbiased_on_a_case_with_known_value(which, name):
    values = [_estimates(seed)[which].value for seed in range(200)]
    assert abs(np.mean(values) - TRUE_VALUE) < 0.002, f"{name} mean {np.mean(values):.4f} vs {TRUE_VALUE:.4f}"


def test_doubly_robust_stays_unbiased_with_a_wrong_reward_model():
    values = [_estimates(seed, biased_model=True)[2].value for seed in range(200)]
    assert abs(np.mean(values) - TRUE_VALUE) < 0.003


def test_95_percent_intervals_cover_the_true_value_about_95_percent_of_the_time():
    covered = [e.lo <= TRUE_VALUE <= e.hi for s in range(200) for e in _estimates(s)]
    assert 0.90 <= np.mean(covered) <= 0.99


def test_a_zero_logging_propensity_is_refused():
    with pytest.raises(ValueError, match="propensities"):
        ips(np.array([1.0]), np.array([0.0]), np.array([1.0]))


# A served-router-like log: the logging policy picks its favourite 99.6 % of the time
# and every other action at a 0.2 % floor; the target prefers another action in half of
# the contexts, so its choice there is logged about once per 500 decisions, weight 500.
FAVOURITE = np.array([[0.996, 0.002, 0.002], [0.002, 0.996, 0.002]])
TARGET_OFF_LOG = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
TRUE_OFF_LOG = float((0.5 * (TARGET_OFF_LOG * P).sum(axis=1)).sum())
MODEL_ERROR = 0.01  # the reward model's error on every context x action


def _off_log_errors(seed, n=5000):
    """|estimate - truth| in pp of IPS, DR and DR clipped at 20 on one such log."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    mu = FAVOURITE[x]
    a = (rng.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1)
    r = (rng.random(n) < P[x, a]).astype(float)
    rows, pi = np.arange(n), TARGET_OFF_LOG[x]
    q = (P + MODEL_ERROR * np.array([[1, -1, -1], [-1, 1, 1]]))[x]
    est = [ips(r, mu[rows, a], pi[rows, a]), doubly_robust(r, mu[rows, a], a, pi, q),
           doubly_robust(r, mu[rows, a], a, pi, q, max_weight=20.0)]
    return [abs(e.value - TRUE_OFF_LOG) * 100 for e in est]


def test_clipped_dr_stays_within_1_pp_where_plain_ips_and_dr_swing_by_several():
    errors = np.array([_off_log_errors(seed) for seed in range(100)])
    rmse = np.sqrt((errors**2).mean(axis=0))
    # plain estimators are unbiased but one weight-500 outcome moves them by ~5 pp
    assert rmse[0] > 3 and rmse[1] > 3 and (errors[:, 1] > 1).mean() > 0.5
    # clipped: the bias is the reward model's error on the target's off-log half
    # (about 0.5 x 0.96 x 1 pp), the variance that of an on-log policy
    assert rmse[2] < 1 and errors[:, 2].max() < 1.5


def test_clipping_changes_nothing_when_no_weight_reaches_the_cap():
    rng = np.random.default_rng(0)
    x, a, r, mu = _logged(rng)
    pi, q = TARGET[x], P[x]
    plain, clipped = (doubly_robust(r, mu, a, pi, q, max_weight=m) for m in (np.inf, 20.0))
    assert plain == clipped


def test_reward_model_reads_an_unseen_value_as_the_training_average_of_its_feature():
    import pandas as pd

    from models.router.ope import RewardModel

    rng = np.random.default_rng(0)
    n = 6000
    band = np.where(rng.random(n) < 0.8, "day", "night")  # the held-out part adds "evening"
    a = rng.integers(0, 2, n)
    y = rng.random(n) < np.where(band == "day", 0.95, 0.80) - 0.03 * a
    ctx = pd.DataFrame({"hour_band": band, "channel": rng.choice(["web", "app"], n),
                        "risk_score": rng.random(n) * 0.1})
    model = RewardModel(2, ["hour_band", "channel"], ["risk_score"]).fit(ctx, a, y.astype(float))
    ask = pd.DataFrame({"hour_band": ["day", "night", "evening"], "channel": ["web"] * 3,
                        "risk_score": [0.05] * 3})
    day, night, evening = np.log(model.predict(ask) / (1 - model.predict(ask)))
    share = (band == "day").mean()
    assert np.allclose(evening, share * day + (1 - share) * night, atol=0.02)


def _sparse_cell_error(seed: int, pooled: bool, c: float) -> float:
    """Reward model error on gateway 1 in country B, where it has 15 outcomes and
    gateway 0 about 2,000; the country effect is the same for both gateways."""
    import pandas as pd

    from models.router.ope import RewardModel

    p = {("A", 0): 0.95, ("B", 0): 0.85, ("A", 1): 0.93, ("B", 1): 0.83}
    rng = np.random.default_rng(seed)
    n = 4000
    country = np.where(rng.random(n) < 0.5, "A", "B")
    a = np.where(country == "A", rng.integers(0, 2, n), 0)
    a[np.flatnonzero(country == "B")[:15]] = 1
    y = rng.random(n) < np.array([p[(x, k)] for x, k in zip(country, a)])
    ctx = pd.DataFrame({"country": country, "risk_score": np.zeros(n)})
    model = RewardModel(2, ["country"], ["risk_score"], c=c, pooled=pooled).fit(
        ctx, a, y.astype(float))
    ask = pd.DataFrame({"country": ["B"], "risk_score": [0.0]})
    return float(model.predict(ask)[0, 1] - p[("B", 1)])


def test_reward_model_predicts_a_gateways_sparse_cell_from_the_effects_gateways_share():
    from pipelines.router.nodes import OPE_C

    pooled = np.abs([_sparse_cell_error(s, True, OPE_C) for s in range(40)]).mean()
    separate = np.abs([_sparse_cell_error(s, False, 1.0) for s in range(40)]).mean()
    assert pooled < 0.05 and pooled < 0.7 * separate, (pooled, separate)
