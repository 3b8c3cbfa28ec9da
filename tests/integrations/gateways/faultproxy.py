"""A fault-injecting HTTP proxy for tests: sits in front of a stand-in on 127.0.0.1.

Faults are queued with `inject(mode, times, match)`; a request whose method, path or
body contains `match` consumes one. Modes:
  "5xx"         answer 503 without forwarding
  "400"         answer 400 invalid_request_error without forwarding (an endpoint the
                server does not offer, as a Stripe-compatible server without search)
  "drop"        close the connection without forwarding (the gateway never saw it)
  "drop_after"  forward, then close without answering (the gateway did the work)
  "delay"       forward, then answer `delay_s` late (the client times out first)
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class Fault:
    """One queued fault."""

    mode: str
    times: int
    match: str = ""
    delay_s: float = 2.0


class FaultProxy:
    """Threaded HTTP proxy forwarding to `upstream` unless a fault says otherwise."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def inject(self, mode: str, times: int = 1, match: str = "", delay_s: float = 2.0) -> None:
        """Queue a fault for the next `times` matching requests."""
        with self._lock:
            self.faults.append(Fault(mode, times, match, delay_s))

    def clear(self) -> None:
        """Drop queued faults and the request log."""
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def take(self, summary: str) -> Fault | None:
        """Consume the first fault matching this request, if any."""
        with self._lock:
            self.requests.append(summary)
            for fault in self.faults:
                if fault.match in summary and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def forward(self, method: str, path: str, headers: dict, body: bytes) -> httpx.Response:
        """Send the request on to the stand-in."""
        clean = {k: v for k, v in headers.items() if k.lower() not in _HOP | {"host"}}
        return self._client.request(method, self.upstream + path, headers=clean, content=body)

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                fault = proxy.take(f"{self.command} {self.path} {body[:300].decode(errors='replace')}")
                mode = fault.mode if fault else "ok"
                if mode == "5xx":
                    return self._reply(503, b'{"error": {"message": "injected 503"}}', {"content-type": "application/json"})
                if mode == "400":
                    return self._reply(400, b'{"error": {"type": "invalid_request_error", '
                                       b'"message": "injected: not supported"}}',
                                       {"content-type": "application/json"})
                if mode == "drop":
                    return self._drop()
                resp = proxy.forward(self.command, self.path, dict(self.headers), body)
                if mode == "drop_after":
                    return self._drop()
                if mode == "delay":
                    time.sleep(fault.delay_s)
                self._reply(resp.status_code, resp.content, resp.headers)

            def _reply(self, status: int, content: bytes, headers) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        if k.lower() not in _HOP:
                            self.send_header(k, v)
                    self.send_header("content-length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    self.close_connection = True

            def _drop(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        return Handler
