"""The in-process policy serving uses: decide/learn, errors, threads, checkpoints."""

from __future__ import annotations

import threading

import pytest

from models.router import default_policy
from models.router.policy import RouterPolicy
from smartpay.errors import InputError
from tests.models.router.helpers import small_config

CTX = dict(card_network="visa", issuing_country="US", currency="USD", amount_minor=4999,
           merchant_category="travel", channel="ecommerce", hour=13, risk_score=0.05)


def test_decision_probability_is_that_of_the_chosen_gateway_and_all_sum_to_one():
    policy = default_policy()
    d = policy.decide(CTX, ["stripe", "solana", "acquirer_na"])
    assert d.probability == pytest.approx(d.probabilities[d.gateway])
    assert sum(d.probabilities.values()) == pytest.approx(1.0)
    assert sorted(d.ranking) == ["acquirer_na", "solana", "stripe"]
    assert d.context["amount_minor"] == 4999


def test_an_unknown_gateway_is_refused_with_the_known_ones_named():
    with pytest.raises(InputError, match="eligible_gateways.*paypal.*stripe"):
        default_policy().decide(CTX, ["stripe", "paypal"])


def test_an_empty_eligible_list_is_refused():
    with pytest.raises(InputError, match="at least one gateway"):
        default_policy().decide(CTX, [])


def test_learning_an_unknown_decision_is_refused():
    with pytest.raises(InputError, match="decision_id"):
        default_policy().learn("nope", {"success": True, "latency_ms": 100})


def test_a_bad_context_names_the_field():
    with pytest.raises(Exception, match="hour"):
        default_policy().decide({**CTX, "hour": 31}, ["stripe"])


def test_learning_moves_traffic_to_the_gateway_that_succeeds():
    policy = RouterPolicy(small_config(), seed=1)
    eligible = ["stripe", "acquirer_x"]
    for i in range(1500):
        d = policy.decide(CTX, eligible, now_s=i * 2.0)
        policy.learn(d.decision_id, {"success": d.gateway == "acquirer_x", "latency_ms": 300})
    picks = [policy.decide(CTX, eligible, now_s=3000.0 + i).gateway for i in range(200)]
    assert picks.count("acquirer_x") / len(picks) > 0.85


def test_concurrent_decide_and_learn_lose_no_outcome():
    policy = default_policy()
    errors: list[Exception] = []

    def worker(n: int) -> None:
        try:
            for _ in range(n):
                d = policy.decide(CTX, ["stripe", "acquirer_na", "amazon_pay"])
                policy.learn(d.decision_id, {"success": True, "latency_ms": 250})
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(200,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert policy.learned == 800


def test_a_checkpoint_restores_the_same_probabilities():
    policy = default_policy()
    for i in range(300):
        d = policy.decide(CTX, ["stripe", "acquirer_na"], now_s=60.0 * i)
        policy.learn(d.decision_id, {"success": d.gateway == "stripe", "latency_ms": 200})
    restored = RouterPolicy(policy.cfg, policy.checkpoint())
    a = policy.decide(CTX, ["stripe", "acquirer_na"], now_s=1e6).probabilities
    b = restored.decide(CTX, ["stripe", "acquirer_na"], now_s=1e6).probabilities
    assert a == pytest.approx(b, abs=1e-6)


def _trained(policy: RouterPolicy, n: int = 400) -> RouterPolicy:
    """`n` outcomes, one a minute, where acquirer_x succeeds and stripe mostly fails."""
    for i in range(n):
        d = policy.decide(CTX, ["stripe", "acquirer_x"], now_s=60.0 * i)
        policy.learn(d.decision_id, {"success": d.gateway == "acquirer_x" or i % 3 == 0,
                                     "latency_ms": 200})
    return policy


def test_a_restored_snapshot_decides_like_the_policy_it_was_taken_from():
    policy = _trained(RouterPolicy(small_config(), seed=3))
    restored = RouterPolicy.from_snapshot(policy.cfg, policy.snapshot(), seed=3)
    assert restored.learned == policy.learned == 400
    # Within the windows the statistics still count: they came back with the model.
    now = 60.0 * 400
    a = policy.decide(CTX, ["stripe", "acquirer_x"], now_s=now)
    b = restored.decide(CTX, ["stripe", "acquirer_x"], now_s=now)
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-9)
    assert a.record["stats"] == b.record["stats"]
    fresh = RouterPolicy(policy.cfg, policy.checkpoint()).decide(
        CTX, ["stripe", "acquirer_x"], now_s=now)
    assert fresh.record["stats"] != a.record["stats"]  # the model bytes alone lose them


def test_a_snapshot_for_other_gateways_is_refused():
    blob = _trained(RouterPolicy(small_config()), 20).snapshot()
    with pytest.raises(ValueError, match="gateways"):
        RouterPolicy.from_snapshot(default_policy().cfg, blob)


def test_configured_capabilities_decide_default_eligibility():
    policy = RouterPolicy(small_config())
    assert policy.eligible_for({**CTX, "channel": "card_present"}) == ["stripe", "acquirer_x"]
    assert "solana" in policy.eligible_for(CTX)


def test_a_context_without_hour_is_routed_at_the_current_utc_hour():
    ctx = {k: v for k, v in CTX.items() if k != "hour"}
    d = default_policy().decide(ctx, ["stripe"])
    assert 0 <= d.context["hour"] <= 23 and d.gateway == "stripe"
