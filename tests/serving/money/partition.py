"""A network partition for tests: a proxy that forwards one chosen request, then loses
its answer and drops every later request until healed (the gateway did the work; we
can no longer see it)."""

from __future__ import annotations

import socket

from tests.integrations.gateways.faultproxy import Fault, FaultProxy


class PartitionProxy(FaultProxy):
    """`partition_after(match)`: the first request containing `match` is forwarded and
    its answer dropped; from then on nothing gets through until `heal()`."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self._trigger: str | None = None
        self.partitioned = False
        self._conns: list[socket.socket] = []
        accept = self._server.get_request

        def get_request():
            conn, addr = accept()
            self._conns.append(conn)
            return conn, addr

        self._server.get_request = get_request

    def __exit__(self, *exc) -> None:
        """Cut the connections clients keep alive, so no handler thread waits on one."""
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().__exit__(*exc)

    def partition_after(self, match: str) -> None:
        with self._lock:
            self._trigger, self.partitioned = match, False

    def heal(self) -> None:
        with self._lock:
            self._trigger, self.partitioned = None, False

    def take(self, summary: str) -> Fault | None:
        with self._lock:
            if self.partitioned:
                self.requests.append(summary)
                return Fault("drop", 1)
            if self._trigger and self._trigger in summary:
                self.requests.append(summary)
                self._trigger, self.partitioned = None, True
                return Fault("drop_after", 1)
        return super().take(summary)
