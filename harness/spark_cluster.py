"""A standalone Spark cluster on 127.0.0.1 for tests: one master, N workers, each its
own JVM process started with pyspark's `bin/spark-class` (the wheel ships no sbin).

`with standalone_cluster(work_dir) as url:` yields `spark://127.0.0.1:PORT` once every
worker has registered with the master; leaving the context stops the workers, then
the master, by PID (SIGTERM, then SIGKILL after a grace period) and waits for them.
Logs go to `<work_dir>/logs`. The product never imports this module: it is handed the
master URL, as a deployment would hand it an existing cluster's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.server import free_port, wait_for_port

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark wheel."""
    import pyspark

    return Path(pyspark.__file__).parent


def _env(work_dir: Path) -> dict[str, str]:
    # Executors run Python UDFs with the interpreter of this process (the venv).
    return {**os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOG_DIR": str(work_dir / "logs"), "SPARK_NO_DAEMONIZE": "1"}


def _start(cls: str, args: list[str], work_dir: Path, name: str) -> subprocess.Popen:
    # `.out`, as Spark's own sbin scripts name daemon output: these are Spark's logs,
    # whose ids (app-20261203071015-0000) the service-log card scan would misread.
    log = open(work_dir / "logs" / f"{name}.out", "ab")
    try:
        return subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), cls, *args], stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_env(work_dir),
            start_new_session=True)
    finally:
        log.close()  # the child holds its own descriptor


def _alive_workers(webui_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=2) as r:
        return int(json.load(r).get("aliveworkers", 0))


def _wait_for_workers(webui_port: int, n: int, procs: list[subprocess.Popen],
                      timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [p.args[1] for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"Spark process exited early: {dead}; see its log")
        try:
            if _alive_workers(webui_port) >= n:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{n} Spark workers did not register within {timeout_s}s")


def _stop(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def standalone_cluster(work_dir: Path, workers: int = 2, cores: int = 1,
                       memory: str = "1g", timeout_s: float = 120.0) -> Iterator[str]:
    """Master + `workers` workers as separate JVMs; yields the master URL."""
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    port, webui = free_port(), free_port()
    procs = [_start(MASTER, ["--host", "127.0.0.1", "--port", str(port),
                             "--webui-port", str(webui)], work_dir, "master")]
    url = f"spark://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout_s)
        for i in range(workers):
            procs.append(_start(WORKER, [
                url, "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                "--webui-port", str(free_port()), "--work-dir",
                str(work_dir / f"worker-{i}")], work_dir, f"worker-{i}"))
        _wait_for_workers(webui, workers, procs, timeout_s)
        yield url
    finally:
        for proc in reversed(procs):  # workers first, the master last
            _stop(proc)
