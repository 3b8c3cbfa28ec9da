"""`smartpay ui` serves the MLflow dashboard of the embedded store on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ui_serves_the_experiment_dashboard_on_the_embedded_store(data_dir):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from cli.main import run; run()", "ui",
                             "--port", str(port)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, status = time.monotonic() + 150, None
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            except httpx.HTTPError:
                time.sleep(1)
        assert status == 200
        assert (data_dir / "mlflow" / "mlflow.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
