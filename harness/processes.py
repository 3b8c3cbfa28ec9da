"""Servers the tests and the demo run as real processes (mlflow, moto, our inference
server): started on a free 127.0.0.1 port, awaited, and stopped with their children."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness.server import free_port, free_ports

__all__ = ["free_port", "free_ports", "server_process"]


def _wait_http(proc: subprocess.Popen, url: str, timeout_s: float, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n"
                               + log.read_text()[-3000:])
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout_s}s:\n" + log.read_text()[-3000:])


@contextmanager
def server_process(cmd: Sequence[str], ready_url: str, log: Path,
                   env: Mapping[str, str] | None = None, timeout_s: float = 60.0,
                   cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """Run `cmd` (its own process group, output to `log`) until `ready_url` answers;
    on exit stop the group (TERM, then KILL after 10 s)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, cwd=cwd,
                                start_new_session=True)
    try:
        _wait_http(proc, ready_url, timeout_s, log)
        yield proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
