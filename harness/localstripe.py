"""Start the `localstripe` stand-in on a free 127.0.0.1 port with fresh state.

    with run_localstripe() as api_base:
        adapter = StripeAdapter(StripeConfig(SecretStr("sk_test_x"), api_base))

localstripe's own `start()` listens on every interface and pickles its whole store to
/tmp/localstripe.pickle on each write (shared by every instance, and slower as the
store grows). We serve its aiohttp app in a child process bound to 127.0.0.1 only,
with that persistence switched off: each start is fresh (`--from-scratch`). Its list
calls scan the whole store, and rendering a charge makes three of them, so a payment
cost O(payments so far) (8 ms a payment after a thousand): the store keeps an index
by object kind, and listing reads only that kind.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

from harness.server import free_port, wait_for_port

_SERVE = """
import sys
from aiohttp import web
from localstripe import resources


class IndexedStore(dict):
    # localstripe's store without the disk writes, its objects also indexed by kind
    def __init__(self):
        super().__init__()
        self.kinds = {}

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.kinds.setdefault(key.split(":", 1)[0], {})[key] = value

    def __delitem__(self, key):
        super().__delitem__(key)
        self.kinds.get(key.split(":", 1)[0], {}).pop(key, None)

    def clear(self):
        super().clear()
        self.kinds.clear()

    def try_load_from_disk(self):
        pass

    def dump_to_disk(self):
        pass


def list_all(cls, url, limit=None, starting_after=None, **kwargs):
    # the upstream version scans the whole store, and renders each charge with three
    # such scans (its refunds): a payment costs more the more payments came before
    if kwargs:
        raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    li = resources.List(url, limit=limit, starting_after=starting_after)
    li._list = list(resources.store.kinds.get(cls.object, {}).values())
    return li


resources.store = IndexedStore()
resources.StripeObject._api_list_all = classmethod(list_all)
from localstripe import server
server.store = resources.store
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None,
            access_log=None)
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
