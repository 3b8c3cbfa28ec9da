"""A new champion is picked up without a restart; a registry outage keeps the old one."""

from __future__ import annotations

from types import SimpleNamespace

from serving.backends import Reloading


def test_a_moved_alias_loads_the_new_version_and_an_unreachable_registry_keeps_the_old():
    registry = {"champion": "1"}
    loads = []

    def load():
        loads.append(registry["champion"])
        return SimpleNamespace(version=registry["champion"])

    def probe():
        if registry["champion"] is None:
            raise ConnectionError("registry down")
        return registry["champion"]

    holder = Reloading(load, probe, every_s=0)
    assert holder.current.version == "1" and holder.check() is False
    registry["champion"] = "2"
    assert holder.check() is True and holder.current.version == "2"
    registry["champion"] = None
    assert holder.check() is False and holder.current.version == "2"
    assert loads == ["1", "2"]
