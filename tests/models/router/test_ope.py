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
