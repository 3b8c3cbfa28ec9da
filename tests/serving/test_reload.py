"""A new champion is picked up without a restart; a registry outage keeps the old one;
the reload check lives exactly as long as the service that started it."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from serving import services
from serving.backends import Reloading


class _Registry:
    """A registry stand-in: the alias and a record of every load and probe."""

    def __init__(self, version: str | None = "1") -> None:
        self.champion, self.loads, self.probes = version, [], 0

    def load(self):
        self.loads.append(self.champion)
        return SimpleNamespace(version=self.champion)

    def probe(self):
        self.probes += 1
        if self.champion is None:
            raise ConnectionError("registry down")
        return self.champion


def test_a_moved_alias_loads_the_new_version_and_an_unreachable_registry_keeps_the_old():
    registry = _Registry("1")
    holder = Reloading(registry.load, registry.probe, every_s=0)
    assert holder.current.version == "1" and holder.check() is False
    registry.champion = "2"
    assert holder.check() is True and holder.current.version == "2"
    registry.champion = None
    assert holder.check() is False and holder.current.version == "2"
    assert registry.loads == ["1", "2"]


def test_constructing_a_reloading_holder_loads_once_and_starts_nothing():
    registry, threads = _Registry("1"), threading.active_count()
    Reloading(registry.load, registry.probe, every_s=0.01)
    assert registry.loads == ["1"] and registry.probes == 0
    assert threading.active_count() == threads


def test_a_started_holder_follows_the_alias_until_stopped():
    registry = _Registry("1")

    async def scenario():
        holder = Reloading(registry.load, registry.probe, every_s=0.01)
        holder.start()
        registry.champion = "2"
        for _ in range(200):
            if holder.current.version == "2":
                break
            await asyncio.sleep(0.01)
        await holder.stop()
        probes = registry.probes
        await asyncio.sleep(0.05)
        return holder.current.version, probes

    version, probes = asyncio.run(scenario())
    assert version == "2" and registry.loads == ["1", "2"]
    assert registry.probes == probes  # nothing checked after stop()


def test_the_check_runs_off_the_event_loop():
    registry, seen = _Registry("1"), []

    def probe():
        seen.append(threading.current_thread() is threading.main_thread())
        return registry.probe()

    async def scenario():
        holder = Reloading(registry.load, probe, every_s=0.01)
        holder.start()
        while not seen:
            await asyncio.sleep(0.01)
        await holder.stop()

    asyncio.run(scenario())
    assert seen[0] is False


def test_start_needs_a_running_loop_and_is_a_no_op_without_a_probe():
    registry = _Registry("1")
    with pytest.raises(RuntimeError):
        Reloading(registry.load, registry.probe, every_s=1).start()
    Reloading(registry.load, None, every_s=1).start()  # nothing to watch: no loop needed


@pytest.fixture
def fake_backends(monkeypatch):
    """The model services build their holders over the stand-in registry."""
    registry = _Registry("1")
    monkeypatch.setattr(services, "_reloading",
                        lambda spec: Reloading(registry.load, registry.probe, 0.01))
    monkeypatch.setattr(services, "freeze_startup_heap", lambda: None)
    monkeypatch.setattr(services.obs, "configure_logging", lambda: None)
    return registry


def _hook(service, marker: str):
    [name] = [n for n in dir(service.inner)
              if getattr(getattr(service.inner, n), marker, False)]
    return name


@pytest.mark.parametrize("service, holder", [(services.FraudScorer, "model"),
                                             (services.GatewayRouter, "policy")])
def test_a_model_service_built_in_process_starts_nothing(fake_backends, service, holder):
    threads = threading.active_count()
    instance = service()
    assert not getattr(instance, holder).running
    assert threading.active_count() == threads


@pytest.mark.parametrize("service, holder", [(services.FraudScorer, "model"),
                                             (services.GatewayRouter, "policy")])
def test_a_served_model_service_reloads_between_its_startup_and_shutdown_hooks(
        fake_backends, service, holder):
    instance = service()
    start = getattr(instance, _hook(service, "__bentoml_startup_hook__"))
    stop = getattr(instance, _hook(service, "__bentoml_shutdown_hook__"))

    async def scenario():
        await start()
        fake_backends.champion = "2"
        for _ in range(200):
            if getattr(instance, holder).current.version == "2":
                break
            await asyncio.sleep(0.01)
        await stop()
        return getattr(instance, holder)

    held = asyncio.run(scenario())
    assert held.current.version == "2" and not held.running
