"""The fault proxy with a way to cut the connections clients keep alive (each holds a
proxy thread) without stopping the proxy."""

from __future__ import annotations

import socket
import threading

from tests.integrations.gateways.faultproxy import FaultProxy


class CuttableProxy(FaultProxy):
    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self._conns: list[socket.socket] = []
        self._conns_lock = threading.Lock()
        accept = self._server.get_request

        def get_request():
            conn, addr = accept()
            with self._conns_lock:
                self._conns.append(conn)
            return conn, addr

        self._server.get_request = get_request

    def cut(self, wait_s: float = 2.0) -> None:
        """Close every client connection and wait for their handler threads."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threading.enumerate():
            if t.name.endswith("(process_request_thread)"):
                t.join(wait_s)

    def __exit__(self, *exc) -> None:
        self.cut()
        super().__exit__(*exc)
