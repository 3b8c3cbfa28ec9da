"""Start the whole service on the embedded default: stand-ins plus `bentoml serve` of
`PaymentAPI` (which starts `FraudScorer` and `GatewayRouter` through `bentoml.depends`)
on a free 127.0.0.1 port. Used by `smartpay serve`, the demo, tests and the load test.
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

from serving.standins import running_standins
from smartpay.settings import get_settings


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bentoml() -> str:
    return str(Path(sys.executable).with_name("bentoml"))


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 180.0) -> None:
    """Poll BentoML's /readyz until every service answers (or the process died)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with code {proc.returncode}; "
                               "see its log")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} was not ready after {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM our own process group (bentoml and the services it spawned)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def running_service(port: int | None = None, extra_env: dict[str, str] | None = None,
                    log_path: Path | None = None) -> Iterator[str]:
    """Stand-ins + `bentoml serve serving.services:PaymentAPI`; yields the base URL."""
    with running_standins() as env:
        port = port or _free_port()
        log_path = log_path or get_settings().path("logs", "serve.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [_bentoml(), "serve", "serving.services:PaymentAPI", "--host", "127.0.0.1",
               "--port", str(port)]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, env=os.environ | env | (extra_env or {}),
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc)
            yield url
        finally:
            _stop(proc)
