"""Run `bentoml serve` of `PaymentAPI` (which starts `FraudScorer` and `GatewayRouter`
through `bentoml.depends`) as a child process group on 127.0.0.1, with the settings
given as environment. Used by `smartpay serve`, the demo, tests and the load test; the
stand-ins, when wanted, are started by the caller (`harness.standins`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from smartpay.errors import InputError, SmartPayError
from smartpay.settings import get_settings


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bentoml() -> str:
    return str(Path(sys.executable).with_name("bentoml"))


class PortInUse(SmartPayError):
    """The API's port is held by another process: we would report its readiness."""

    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(f"port {port} on 127.0.0.1 is already in use; stop what "
                         "listens there or pick another --port")


class ServiceDied(SmartPayError):
    """The API server exited while starting."""


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 180.0) -> None:
    """Poll BentoML's /readyz until every service answers (or the process died). Ready
    means *our* server answers: one of its processes listens on the port."""
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if port_taken(port):
                raise PortInUse(port)
            raise ServiceDied(f"bentoml serve on port {port} exited with code "
                              f"{proc.returncode} before it was ready; see its log")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                if not _listens(proc, port):
                    raise PortInUse(port)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} was not ready after {timeout_s:.0f} s")


def _listens(proc: subprocess.Popen, port: int) -> bool:
    """Whether a process of this server holds the listening socket on `port`."""
    import psutil

    pids = {p.pid for p in service_processes(proc)}
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # cannot tell: trust the readiness answer
        return True
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
               and c.pid in pids for c in conns)


def service_processes(proc: subprocess.Popen) -> list:
    """`bentoml serve` and every process it started: its workers run in sessions of
    their own, so the process group alone does not reach them."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_service(proc: subprocess.Popen) -> None:
    """SIGKILL the server and all its workers at once (what a crash looks like)."""
    for p in service_processes(proc):
        try:
            p.kill()
        except Exception:  # already gone
            pass
    proc.wait()


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM bentoml and every worker it spawned; SIGKILL what is left after 20 s."""
    import psutil

    family = service_processes(proc)
    for p in family:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=20)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    if proc.poll() is None:
        proc.wait()


def port_taken(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


SERVICES = ("api", "fraud", "router")


def workers_env(workers: dict[str, int] | None) -> dict[str, str]:
    """{"api": 2, "fraud": 2} -> the settings variables `serving.services` reads."""
    env = {}
    for kind, n in (workers or {}).items():
        if kind not in SERVICES:
            raise InputError("workers", kind, "one of " + ", ".join(SERVICES))
        if not isinstance(n, int) or n < 1:
            raise InputError(f"workers.{kind}", n, "a whole number of processes >= 1")
        env[f"SMARTPAY_SERVING__{kind.upper()}_WORKERS"] = str(n)
    return env


def start_service(port: int | None = None, extra_env: dict[str, str] | None = None,
                  log_path: Path | None = None, workers: dict[str, int] | None = None
                  ) -> tuple[subprocess.Popen, str]:
    """Start `bentoml serve serving.services:PaymentAPI` in its own process group and
    wait until it is ready; the caller stops it with `stop_service`. `workers` sets
    processes per service ({"api": 2, "fraud": 2, "router": 1}) over what `extra_env`
    and the environment say. Refuses a port something already answers on (it would
    report another server's readiness)."""
    port = port or _free_port()
    if port_taken(port):
        raise PortInUse(port)
    env = os.environ | (extra_env or {}) | workers_env(workers)
    log_path = log_path or get_settings().paths.serve_log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_bentoml(), "serve", "serving.services:PaymentAPI", "--host", "127.0.0.1",
           "--port", str(port)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
    except BaseException:
        stop_service(proc)
        raise
    return proc, url


stop_service = _stop


def run_supervised(cmd: list[str]) -> int:
    """Run `cmd` under a guardian (`serving.supervisor`) that stops everything it
    starts when this process exits, by any path, `kill -9` included. Stop signals sent
    to this process are passed on; returns the command's exit code."""
    guard = subprocess.Popen([sys.executable, "-m", "serving.supervisor",
                              str(os.getpid()), "--", *cmd])

    def forward(signum, frame) -> None:
        if guard.poll() is None:
            guard.send_signal(signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    return guard.wait()


@contextmanager
def running_service(port: int | None = None, extra_env: dict[str, str] | None = None,
                    log_path: Path | None = None, workers: dict[str, int] | None = None
                    ) -> Iterator[str]:
    """`start_service` as a context: yields the base URL, stops the group on exit."""
    proc, url = start_service(port, extra_env, log_path, workers)
    try:
        yield url
    finally:
        stop_service(proc)
