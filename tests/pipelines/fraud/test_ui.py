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
def test_ui_serves_the_experiment_dashboard_on_the_embedded_store(data_dir, tmp_path):
    import mlflow

    from smartpay.locks import SCHEMA_MIGRATIONS
    from smartpay.settings import get_settings

    # Create the store here first: two processes migrating one new SQLite file at once
    # (the UI and any MLflow client of this worker) can leave the UI dead on start.
    (data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    with SCHEMA_MIGRATIONS:
        mlflow.MlflowClient(get_settings().tracking_uri).search_experiments()
    port = _free_port()
    # Output goes to a file, not a pipe nobody reads: a full pipe would block the server.
    log = open(tmp_path / "ui.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", "from cli.main import run; run()", "ui",
                             "--port", str(port)], env=os.environ.copy(),
                            stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, status = time.monotonic() + 150, None
        while time.monotonic() < deadline and status != 200:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code
            except httpx.HTTPError:
                time.sleep(1)
        assert status == 200, (tmp_path / "ui.log").read_text()[-2000:]
        assert (data_dir / "mlflow" / "mlflow.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
