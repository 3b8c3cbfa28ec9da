"""Start the `localstripe` stand-in on a free 127.0.0.1 port with fresh state.

    with run_localstripe() as api_base:
        adapter = StripeAdapter(StripeConfig(SecretStr("sk_test_x"), api_base))
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from integrations.gateways.standin import free_port, wait_for_port


def _executable() -> str:
    """The localstripe console script next to this interpreter, else on PATH."""
    local = Path(sys.executable).with_name("localstripe")
    return str(local) if local.exists() else (shutil.which("localstripe") or "localstripe")


@contextmanager
def run_localstripe(port: int | None = None) -> Iterator[str]:
    """Run `localstripe --from-scratch`; yield its API base URL; stop it on exit."""
    port = port or free_port()
    proc = subprocess.Popen(
        [_executable(), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
