"""Status sync: payments left created, authorized or pending are settled from what the
gateway says, with a fake clock for the gateway's consistency window."""

from __future__ import annotations

import pytest

from serving.ports import GatewayResult as R


async def _left_in_flight(store, status: str, gateway: str | None, key: str) -> str:
    """A payment as a crash or an unknown gateway answer leaves it, its key claimed."""
    await store.claim("m1", key, "hash")
    pid = await store.create_payment(
        first_gateway=gateway, merchant_id="m1", amount_minor=2_500, currency="USD",
        method_type="card", method_token="pm_card_visa", user_id="customer-7",
        idem_key=key)
    if status == "authorized":
        await store.transition(pid, "authorized", gateway=gateway)
    elif status == "pending":
        await store.record(pid, "pending", "read timeout", gateway=gateway,
                           attempt=(f"{pid}-1", "pending", None, "timeout"))
    return pid


def _sync(world, *statuses: str, advance_s: float = 0.0, gateways=("alpha",)):
    async def flow():
        pids = [await _left_in_flight(world.store, s, g, f"k{i}")
                for i, (s, g) in enumerate(zip(statuses, gateways))]
        world.clock.advance(advance_s)
        return pids, await world.svc.reconcile()

    return world.run(flow())


def test_reconcile_settles_a_pending_payment_the_gateway_now_reports_captured(world):
    world.gw["alpha"].script("status", R("captured", "alpha_ch_9"))
    (pid,), counts = _sync(world, "pending", advance_s=5)
    assert counts == {"captured": 1}
    p = world.store.payments[pid]
    assert (p["status"], p["gateway_ref"]) == ("captured", "alpha_ch_9")
    assert [e["status"] for e in world.processed()] == ["captured"]
    assert world.store.keys[("m1", "k0")]["response"]["status"] == "captured"
    assert world.run(world.svc.reconcile()) == {}
    assert len(world.processed()) == 1


def test_reconcile_captures_a_payment_left_authorized(world):
    world.gw["alpha"].script("status", R("authorized", "alpha_ch_3"))
    (pid,), counts = _sync(world, "authorized")
    assert counts == {"captured": 1}
    assert world.gw["alpha"].called("capture") == [(f"{pid}-1", "alpha_ch_3", 2_500)]


def test_not_found_inside_the_consistency_window_keeps_the_payment_pending(world):
    (pid,), counts = _sync(world, "pending", advance_s=10)
    assert counts == {"pending": 1}
    assert world.store.payments[pid]["status"] == "pending"
    assert world.processed() == []
    assert world.store.keys[("m1", "k0")]["state"] == "in_progress"  # retries wait


def test_not_found_after_the_consistency_window_fails_the_payment(world):
    (pid,), counts = _sync(world, "pending", advance_s=61)
    assert counts == {"failed": 1}
    p = world.store.payments[pid]
    assert (p["status"], p["reason"]) == ("failed", "the gateway never saw the charge")
    assert [e["status"] for e in world.processed()] == ["failed"]


def test_reconcile_counts_a_payment_the_gateway_still_reports_pending(world):
    world.gw["alpha"].script("status", R("pending", "alpha_ch_1"))
    (pid,), counts = _sync(world, "pending")
    assert world.store.payments[pid]["status"] == "pending"
    assert counts == {"pending": 1}


def test_one_gateway_failing_during_reconcile_does_not_stop_the_others(world):
    world.gw["alpha"].script("status", ConnectionError("alpha down"))
    world.gw["beta"].script("status", R("captured", "beta_ch_1"))
    (a, b), counts = _sync(world, "pending", "pending", gateways=("alpha", "beta"))
    assert counts == {"error": 1, "captured": 1}
    assert (world.store.payments[a]["status"], world.store.payments[b]["status"]) == (
        "pending", "captured")


def test_a_payment_created_without_any_attempt_is_failed_by_reconcile(world):
    (pid,), counts = _sync(world, "created", gateways=(None,))
    assert counts == {"failed": 1}
    assert world.store.payments[pid]["reason"] == "no gateway was tried"


def test_a_payment_left_for_a_gateway_not_configured_here_keeps_its_key_open(world):
    (pid,), counts = _sync(world, "created", gateways=("gamma",))
    assert world.store.payments[pid]["status"] == "created"
    assert world.store.keys[("m1", "k0")]["state"] == "in_progress"


def test_the_periodic_sync_leaves_a_payment_changed_recently_to_its_live_request(world):
    async def flow():
        pid = await world.store.create_payment(
            first_gateway="alpha", merchant_id="m1", amount_minor=2_500, currency="USD",
            method_type="card", method_token="pm_card_visa", user_id="customer-7",
            idem_key="k-live")
        young = await world.svc.reconcile(min_age_s=60.0)
        world.clock.advance(61.0)
        old = await world.svc.reconcile(min_age_s=60.0)
        return pid, young, old

    pid, young, old = world.run(flow())
    assert young == {} and sum(old.values()) == 1
    assert world.gw["alpha"].called("status")
