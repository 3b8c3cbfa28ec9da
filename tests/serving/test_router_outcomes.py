"""Several router workers (or pods) each hold their own pending decisions: an outcome
that reaches another worker is learned by the one that made the decision, over the
prod profile's Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from models.router.policy import RouterPolicy
from serving.router_outcomes import OutcomeForwarding, learn_or_forward

pytestmark = pytest.mark.prod
CTX = {"card_network": "visa", "issuing_country": "US", "currency": "USD",
       "amount_minor": 2_500, "merchant_category": "retail", "channel": "ecommerce",
       "hour": 12}
OUTCOME = {"success": True, "latency_ms": 120.0}


def _learn(policy: RouterPolicy):
    return lambda decision_id, outcome: policy.learn(decision_id, outcome)


async def _workers(url: str, n: int
                   ) -> tuple[list[RouterPolicy], list[OutcomeForwarding]]:
    prefix = f"smartpay-test-{uuid.uuid4().hex[:8]}"
    policies = [RouterPolicy(seed=i) for i in range(n)]
    forwards = [OutcomeForwarding(url, prefix, _learn(p)) for p in policies]
    for f in forwards:
        await f.start()
    return policies, forwards


def _decide(policy: RouterPolicy) -> str:
    return policy.decide(CTX, policy.eligible_for(CTX)).decision_id


def test_an_outcome_reaching_another_worker_is_learned_by_the_worker_that_decided(
        prod_server):
    host, port = prod_server("redis")

    async def run():
        (a, b, c), forwards = await _workers(f"redis://{host}:{port}/0", 3)
        try:
            decision = _decide(a)
            answer = await learn_or_forward(_learn(b), forwards[1], decision, OUTCOME)
            again = await learn_or_forward(_learn(c), forwards[2], decision, OUTCOME)
            return answer, again, (a.learned, b.learned, c.learned), forwards[0]
        finally:
            for f in forwards:
                await f.stop()

    answer, again, learned, holder = asyncio.run(run())
    assert answer == {"learned": True}
    assert learned == (1, 0, 0) and holder.learned_for_others == 1
    # the decision is learned once: a repeat is declined by every worker, quickly
    assert again["learned"] is False
    assert "nor by any other router worker" in again["reason"]


def test_an_outcome_no_worker_holds_is_declined_without_waiting_out_the_timeout(
        prod_server):
    host, port = prod_server("redis")

    async def run():
        _, forwards = await _workers(f"redis://{host}:{port}/0", 2)
        forwards[0].wait_s = 30.0
        try:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            answer = await learn_or_forward(_learn(RouterPolicy()), forwards[0],
                                            uuid.uuid4().hex, OUTCOME)
            return answer, loop.time() - t0
        finally:
            for f in forwards:
                await f.stop()

    answer, seconds = asyncio.run(run())
    assert answer["learned"] is False and seconds < 5.0


def test_a_worker_without_forwarding_acknowledges_an_unknown_decision_unlearned():
    learn = _learn(RouterPolicy())
    answer = asyncio.run(learn_or_forward(learn, None, "nope", OUTCOME))
    assert answer["learned"] is False and "decision_id" in answer["reason"]
