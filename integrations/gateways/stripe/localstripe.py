"""Start the `localstripe` stand-in on a free 127.0.0.1 port with fresh state.

    with run_localstripe() as api_base:
        adapter = StripeAdapter(StripeConfig(SecretStr("sk_test_x"), api_base))

localstripe's own `start()` listens on every interface and pickles its whole store to
/tmp/localstripe.pickle on each write (shared by every instance, and slower as the
store grows). We serve its aiohttp app in a child process bound to 127.0.0.1 only,
with that persistence switched off: each start is fresh (`--from-scratch`).
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

from integrations.gateways.standin import free_port, wait_for_port

_SERVE = """
import sys
from aiohttp import web
from localstripe import resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import app
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@contextmanager
def run_localstripe(port: int | None = None) -> Iterator[str]:
    """Run localstripe in a child process; yield its API base URL; stop it on exit."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
