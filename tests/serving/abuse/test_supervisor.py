"""The guardian under `smartpay serve`, on small stand-in commands: whatever the
command starts (sessions of their own, SIGTERM ignored) goes down when the process
that started the guardian is killed, and a stop request ends with the command's own
exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow

# Starts a grandchild in a session of its own that ignores SIGTERM (as a stubborn
# worker would), writes both pids, then waits.
COMMAND = """
import os, signal, subprocess, sys, time
stubborn = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"],
    start_new_session=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
open(sys.argv[1], "w").write(f"{os.getpid()} {stubborn.pid}")
time.sleep(120)
"""

STARTER = """
import sys
from serving.launcher import run_supervised
sys.exit(run_supervised([sys.executable, "-c", sys.argv[1], sys.argv[2]]))
"""


def _start(tmp_path: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    pids = tmp_path / "pids"
    starter = subprocess.Popen([sys.executable, "-c", STARTER, COMMAND, str(pids)],
                               env=os.environ | {"PYTHONPATH": str(ROOT)}, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (pids.exists() and pids.read_text().count(" ") == 1):
        assert time.monotonic() < deadline and starter.poll() is None
        time.sleep(0.1)
    family = psutil.Process(starter.pid).children(recursive=True)
    started = {int(p) for p in pids.read_text().split()}
    assert started <= {p.pid for p in family}  # the stubborn one is still ours
    return starter, family


def _cleanup(starter: subprocess.Popen, family: list[psutil.Process]) -> None:
    for p in family:
        try:
            p.kill()
        except psutil.Error:
            pass
    if starter.poll() is None:
        starter.kill()
    starter.wait()


def test_kill_9_of_the_starter_takes_down_everything_the_command_started(tmp_path):
    starter, family = _start(tmp_path)
    try:
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait()
        _, alive = psutil.wait_procs(family, timeout=30)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
    finally:
        _cleanup(starter, family)


def test_sigterm_of_the_starter_stops_all_and_exits_with_the_commands_code(tmp_path):
    starter, family = _start(tmp_path)
    try:
        starter.send_signal(signal.SIGTERM)
        assert starter.wait(30) == 0
        _, alive = psutil.wait_procs(family, timeout=5)
        assert not alive, [(p.pid, p.cmdline()) for p in alive]
    finally:
        _cleanup(starter, family)
