"""Start the `localstripe` stand-in on a free 127.0.0.1 port with fresh state.

    with run_localstripe() as api_base:
        adapter = StripeAdapter(StripeConfig(SecretStr("sk_test_x"), api_base))

localstripe's own `start()` listens on every interface and pickles its whole store to
/tmp/localstripe.pickle on each write. We serve its aiohttp app in a child process
bound to 127.0.0.1 only, with fresh in-memory state, and with Stripe's idempotent
requests and refund cap put back (`harness.localstripe_server` says how and why).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.server import free_port, wait_for_port

# the child imports the same `harness` as this process, wherever it was started from
_ROOT = str(Path(__file__).resolve().parents[1])


def start_localstripe(port: int, state: Path | None = None) -> subprocess.Popen:
    """Start localstripe on `port` (its books kept in `state` across a stop and a
    start, when given) and wait until it listens."""
    path = os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "harness.localstripe_server", str(port)]
    proc = subprocess.Popen(cmd + ([str(state)] if state is not None else []),
                            env={**os.environ, "PYTHONPATH": path},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
    except BaseException:
        stop_localstripe(proc)
        raise
    return proc


def stop_localstripe(proc: subprocess.Popen) -> None:
    """SIGTERM (it saves its books, if it keeps any), SIGKILL after 5 s."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def run_localstripe(port: int | None = None,
                    state: Path | None = None) -> Iterator[str]:
    """Run localstripe in a child process; yield its API base URL; stop it on exit."""
    port = port or free_port()
    proc = start_localstripe(port, state)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_localstripe(proc)
