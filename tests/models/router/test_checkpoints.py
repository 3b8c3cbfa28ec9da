"""Online-learned router state survives a restart: checkpoints in MLflow, restored by
the loader serving uses, and saved on a schedule by the router service."""

from __future__ import annotations

import asyncio

import pytest

from models.router import registry
from models.router.checkpoints import CheckpointStore
from models.router.policy import RouterPolicy
from models.router.serve import load_champion
from serving.backends import Checkpointing
from tests.models.router.helpers import small_config

CTX = dict(card_network="visa", issuing_country="DE", currency="EUR", amount_minor=1200,
           merchant_category="grocery", channel="ecommerce", hour=9)
ELIGIBLE = ["stripe", "acquirer_x"]


@pytest.fixture
def store_uri(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = small_config()
    reg = registry.RouterRegistry(uri)
    reg.promote(reg.log_and_register(RouterPolicy(cfg).checkpoint(), cfg, {}, {}), True)
    return uri


def _serve(router, n: int, start_minute: int = 0) -> None:
    for i in range(start_minute, start_minute + n):
        decision_id = router.decide({**CTX}, ELIGIBLE)[3]
        router.learn(decision_id, {"success": i % 4 != 0, "latency_ms": 250.0})


def test_a_restarted_router_carries_on_from_its_newest_checkpoint(store_uri):
    first = load_champion(store_uri)
    _serve(first, 120)
    assert first.save_checkpoint()
    assert not first.save_checkpoint()  # nothing new learned: nothing written
    _serve(first, 30)
    assert first.save_checkpoint()

    restarted = load_champion(store_uri)
    assert restarted.version == first.version and restarted.learned == 150
    a = first.policy.decide(CTX, ELIGIBLE)
    b = restarted.policy.decide(CTX, ELIGIBLE)
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-9)
    assert a.record["stats"] == b.record["stats"]


def test_checkpoints_belong_to_the_version_that_learned_them(store_uri):
    router = load_champion(store_uri)
    _serve(router, 40)
    router.save_checkpoint()
    store = CheckpointStore(registry.RouterRegistry(store_uri))
    assert store.latest(router.version)[0] == 40
    assert store.latest("gateway-router/99") is None


def test_the_router_service_checkpoints_on_schedule_and_once_more_at_shutdown(store_uri):
    router = load_champion(store_uri)
    saver = Checkpointing(lambda: router, every_s=0.02)

    async def scenario():
        saver.start()
        _serve(router, 25)
        for _ in range(200):
            if router.saved_step == 25:
                break
            await asyncio.sleep(0.01)
        _serve(router, 5)  # learned after the last scheduled save...
        await saver.stop()  # ...and saved by the final one

    asyncio.run(scenario())
    assert not saver._periodic.running
    assert load_champion(store_uri).learned == 30


def test_a_failing_store_does_not_stop_serving(store_uri):
    router = load_champion(store_uri)
    _serve(router, 3)

    class Down:
        def save(self, *args):
            raise ConnectionError("registry unreachable")

    router.checkpoints = Down()
    assert Checkpointing(lambda: router, every_s=1).save() is False
    _serve(router, 3)
    assert router.learned == 6
