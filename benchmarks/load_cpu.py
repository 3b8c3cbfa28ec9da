"""CPU accounting of the load test: calibration, CPU ms per request by process, and
the arithmetic of how many payments a second two cores can carry.

Roles: the API's processes by BentoML service (`api`, `fraud`, `router`, `bentoml`
for the arbiter), the Stripe stand-in (its own process), the Amazon Pay and Solana
stand-ins (threads of the load generator's process: `standins_inproc`), the load
generator's own thread (`loadgen`) and, while they run, the floor services.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import psutil

REFERENCE_CALIBRATION_S = 1.78  # the 10 M-addition loop on the box of the first figures
LOADS = 10_000_000


_LOOP = compile(f"s = 0\nfor i in range({LOADS}):\n    s += i\n", "<calibration>",
                "exec")


def calibrate() -> float:
    """Seconds of a fixed pure-Python loop of 10 M additions (CPU speed, one core),
    run at module level as `python -c` runs it: name lookups in a dict, about twice
    the time of the same loop inside a function."""
    t0 = time.perf_counter()
    exec(_LOOP, {})
    return time.perf_counter() - t0


def scaled(target_ms: float, calibration_s: float) -> float:
    """A latency target moved to this box: slower box (longer loop), looser target."""
    return target_ms * calibration_s / REFERENCE_CALIBRATION_S


def api_roles(proc) -> list[tuple[str, psutil.Process]]:
    """(role, process) of `bentoml serve` of the API and every worker it started."""
    from serving.launcher import service_processes

    names = {"payment_api": "api", "fraud_scorer": "fraud", "gateway_router": "router"}
    roles = []
    for p in service_processes(proc):
        cmd = p.cmdline()
        name = cmd[cmd.index("--service-name") + 1] if "--service-name" in cmd else ""
        roles.append((names.get(name, "bentoml"), p))
    return roles


def child_roles() -> list[tuple[str, psutil.Process]]:
    """Stand-ins this process started as processes of their own (localstripe)."""
    out = []
    for p in psutil.Process().children():
        try:
            if any("localstripe_server" in part for part in p.cmdline()):
                out.append(("stripe_standin", p))
        except psutil.Error:
            pass
    return out


def family(role: str, proc) -> list[tuple[str, psutil.Process]]:
    """A started server (Popen) with all its descendants, under one role."""
    try:
        root = psutil.Process(proc.pid)
        return [(role, p) for p in [root, *root.children(recursive=True)]]
    except psutil.Error:
        return []


class CpuMeter:
    """CPU seconds (user + system) by role, sampled before and after a phase."""

    def __init__(self) -> None:
        self._sources: dict[str, Callable[[], list]] = {}

    def watch(self, key: str, roles: Callable[[], list]) -> None:
        """Count the processes `roles()` names (called at every sample: restarted
        workers are found again)."""
        self._sources[key] = roles

    def forget(self, key: str) -> None:
        self._sources.pop(key, None)

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for roles in self._sources.values():
            for role, p in roles():
                try:
                    t = p.cpu_times()
                except psutil.Error:  # a worker that went away
                    continue
                out[role] = out.get(role, 0.0) + t.user + t.system
        out.update(_own_threads())
        return out


def _own_threads() -> dict[str, float]:
    """This process split in two: the main thread (the load generator's event loop)
    and every other thread (the in-process stand-ins' servers)."""
    main = threading.main_thread().native_id
    own = {"loadgen": 0.0, "standins_inproc": 0.0}
    for t in psutil.Process().threads():
        role = "loadgen" if t.id == main else "standins_inproc"
        own[role] += t.user_time + t.system_time
    return own


def per_request_ms(before: dict, after: dict, n: int) -> dict[str, float]:
    """CPU ms per answered request of each role between two samples."""
    n = max(1, n)
    return {r: round((after[r] - before.get(r, 0.0)) * 1000 / n, 3)
            for r in sorted(after) if after[r] - before.get(r, 0.0) > 0}


def payments_that_fit(per_payment_ms: dict[str, float], rate: float = 500.0,
                      cores: int = 2) -> dict:
    """How much CPU `rate` payments a second need, from the measured ms per payment
    of every process on the box, against the cores' 1,000 CPU-ms a second each."""
    total = sum(per_payment_ms.values())
    need = total * rate
    have = cores * 1000.0
    return {"ms_per_payment": round(total, 2), "rate": rate, "need_cpu_ms_per_s":
            round(need, 0), "have_cpu_ms_per_s": have, "fits": need <= have,
            "max_rate": round(have / total, 1) if total else float("inf")}
