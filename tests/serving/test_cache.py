"""The in-process TTL cache of the local profile (risk, routes, balances, chat)."""

from __future__ import annotations

import asyncio
import gc

from serving.cache import LocalCache


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(coro):
    return asyncio.run(coro)


def test_an_entry_is_served_until_its_namespace_ttl_and_not_after():
    clock = _Clock()
    cache = LocalCache(ttl_s={"risk": 1800, "route": 900}, clock=clock)
    _run(cache.set("risk", "k", {"risk_score": 0.1}))
    _run(cache.set("route", "k", {"gateway": "stripe"}))
    clock.now = 1000
    assert _run(cache.get("risk", "k")) == {"risk_score": 0.1}
    assert _run(cache.get("route", "k")) is None


def test_the_oldest_entries_leave_first_when_the_cache_is_full():
    cache = LocalCache(maxsize=2, ttl_s={"risk": 60}, clock=_Clock())
    for key in ("a", "b", "c"):
        _run(cache.set("risk", key, key))
    assert [_run(cache.get("risk", k)) for k in ("a", "b", "c")] == [None, "b", "c"]


def test_setting_a_key_again_renews_its_ttl():
    clock = _Clock()
    cache = LocalCache(ttl_s={"balance": 300}, clock=clock)
    _run(cache.set("balance", "u", 1))
    clock.now = 200
    _run(cache.set("balance", "u", 2))
    clock.now = 400
    assert _run(cache.get("balance", "u")) == 2


def test_a_cached_value_is_a_copy_the_caller_cannot_change_afterwards():
    cache = LocalCache(ttl_s={"risk": 60}, clock=_Clock())
    value = {"top_features": [{"feature": "amount"}]}
    _run(cache.set("risk", "k", value))
    value["top_features"].clear()
    assert _run(cache.get("risk", "k")) == {"top_features": [{"feature": "amount"}]}


def test_cached_entries_are_invisible_to_the_garbage_collector():
    cache = LocalCache(ttl_s={"risk": 60}, clock=_Clock())
    for i in range(1000):
        _run(cache.set("risk", str(i), {"risk_score": i / 1000, "top_features": []}))
    gc.collect()  # untracks the tuples of atomic values
    entries = cache._caches["risk"]
    assert not any(gc.is_tracked(v) for v in entries.values())
