"""The chaos benchmark's faults: SIGKILL of model workers (and how long BentoML takes
to replace them and the API to be ready again), and a stop and start of localstripe on
its port with its books kept."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

ROLES = {"fraud": "fraud_scorer", "router": "gateway_router"}


def _workers(proc, role: str) -> list:
    """The live worker processes of one model service (a killed one lingers as a
    zombie until BentoML's arbiter reaps it: not counted)."""
    import psutil

    from serving.launcher import service_processes

    found = []
    for p in service_processes(proc):
        try:
            cmd = p.cmdline()
            if p.status() != psutil.STATUS_ZOMBIE and ROLES[role] in cmd:
                found.append(p)
        except psutil.Error:  # gone (or a zombie) since the listing
            pass
    return found


async def _respawn_s(proc, role: str, before: set[int], t_kill: float,
                     limit_s: float = 60.0) -> float | None:
    """Seconds until BentoML runs a new worker for `role`, one not among the
    workers `before` the kill (None: none within limit)."""
    while time.perf_counter() - t_kill < limit_s:
        pids = {p.pid for p in await asyncio.to_thread(_workers, proc, role)}
        if pids - before:
            return time.perf_counter() - t_kill
        await asyncio.sleep(0.2)
    return None


def _ready(url: str) -> bool:
    """The API's /readyz: BentoML answers 200 once every dependency answers."""
    import httpx

    try:
        return httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


async def _ready_s(url: str, t_kill: float, limit_s: float = 180.0) -> float | None:
    """Seconds from the kill until the API is ready again (None: not within limit)."""
    while time.perf_counter() - t_kill < limit_s:
        if await asyncio.to_thread(_ready, url):
            return time.perf_counter() - t_kill
        await asyncio.sleep(0.5)
    return None


async def kill_workers(proc, url: str, every_s: float, seconds: float, t0: float,
                       log: list[dict]) -> None:
    """SIGKILL the fraud, then the router worker, ... every `every_s` s of the run;
    each waits until the previous victim is replaced and the API ready, so a recovery
    longer than `every_s` pushes the next kill later (each fault records its time)."""
    roles, n = ("fraud", "router"), 1
    while n * every_s < seconds:
        await asyncio.sleep(max(0.0, t0 + n * every_s - time.perf_counter()))
        if time.perf_counter() - t0 >= seconds:  # the last one's recovery ran late
            break
        role = roles[(n - 1) % 2]
        victims = await asyncio.to_thread(_workers, proc, role)
        event = {"t_s": round(time.perf_counter() - t0, 1), "fault": f"kill {role}",
                 "pid": victims[0].pid if victims else None}
        if victims:
            t_kill = time.perf_counter()
            os.kill(victims[0].pid, signal.SIGKILL)
            event["respawn_s"] = await _respawn_s(proc, role, {p.pid for p in victims},
                                                  t_kill)
            event["ready_s"] = await _ready_s(url, t_kill)
        log.append(event)
        print(f"  t={event['t_s']:6.1f}s {event['fault']} pid {event['pid']}: new "
              f"worker after {event.get('respawn_s')} s, API ready again after "
              f"{event.get('ready_s')} s", flush=True)
        n += 1


async def restart_localstripe(base: str, state: Path, at_s: float, down_s: float,
                              t0: float, log: list[dict], keep: list) -> None:
    """Stop the running localstripe (it saves its books) and start it again on the
    same port `down_s` s later; the new process goes to `keep` (the caller stops
    it)."""
    from harness.localstripe import start_localstripe

    await asyncio.sleep(max(0.0, t0 + at_s - time.perf_counter()))
    port = base.rsplit(":", 1)[1]
    old = await asyncio.to_thread(_localstripe_process, port)
    t_stop = time.perf_counter()
    await asyncio.to_thread(_terminate, old)
    await asyncio.sleep(down_s)
    keep.append(await asyncio.to_thread(start_localstripe, int(port), state))
    event = {"t_s": round(t_stop - t0, 1), "fault": "restart localstripe",
             "pid": old.pid, "down_s": round(time.perf_counter() - t_stop, 2)}
    log.append(event)
    print(f"  t={event['t_s']:6.1f}s localstripe stopped, listening again after "
          f"{event['down_s']} s", flush=True)


def _localstripe_process(port: str):
    import psutil

    for p in psutil.Process().children(recursive=True):
        cmd = p.cmdline()
        if "harness.localstripe_server" in cmd and port in cmd:
            return p
    raise RuntimeError(f"no localstripe child process on port {port}")


def _terminate(p) -> None:
    p.terminate()
    p.wait(10)
