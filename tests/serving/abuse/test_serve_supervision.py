"""Finding 12: `smartpay serve` owns everything it starts. `kill -9` of the command
takes the API server, its workers and the stand-ins down with it and frees the port;
a port that is already taken makes it exit non-zero naming the port, never 'ready'."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from harness.server import free_port, serve_asgi
from tests.serving.conftest import TEST_BACKENDS

ROOT = Path(__file__).resolve().parents[3]


def _serve(port: int, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
    return subprocess.Popen(cmd,
                            env=os.environ | {"PYTHONPATH": str(ROOT)} | env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout_s: float) -> list[str]:
    import selectors

    lines, deadline = [], time.monotonic() + timeout_s
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if needle in line:
                return lines
    tail = "".join(lines)[-3000:]
    raise AssertionError(f"no {needle!r} within {timeout_s} s: {tail}")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_kill_9_of_serve_takes_its_servers_and_stand_ins_down_and_frees_the_port(
        data_dir, tracking_uri):
    port = free_port()
    env = {**TEST_BACKENDS, "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri,
           "SMARTPAY_DATA_DIR": str(data_dir)}
    proc, family = _serve(port, env), []
    try:
        _wait_for_line(proc, "SmartPay API", timeout_s=240)
        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= 4, family  # guardian, serve, bentoml and its services
        assert _listening(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(family, timeout=30)
        assert not alive, [(p.pid, p.name()) for p in alive]
        assert not _listening(port)
    finally:
        for p in [psutil.Process(proc.pid), *family] if proc.poll() is None else family:
            try:
                p.kill()
            except psutil.Error:
                pass
        proc.wait()


def test_serve_on_a_port_already_taken_exits_non_zero_naming_the_port(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--port",
                              str(port)], env=os.environ | {"PYTHONPATH": str(ROOT)},
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert f"port {port}" in out.stderr and "already in use" in out.stderr
    assert "SmartPay API" not in out.stdout


def test_readiness_answered_by_another_server_on_our_port_is_not_ready():
    """The port was free when checked, then another server took it: its /readyz says
    200 while our server died or never listened. That must not count as ready."""
    from serving.launcher import PortInUse, wait_ready

    async def ok(_):
        return PlainTextResponse("ok")

    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with serve_asgi(Starlette(routes=[Route("/readyz", ok)]), name="other") as url:
            with pytest.raises(PortInUse) as err:
                wait_ready(url, ours, timeout_s=20)
        assert str(err.value.port) in str(err.value)
    finally:
        ours.kill()
        ours.wait()
