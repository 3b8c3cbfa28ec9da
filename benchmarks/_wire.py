"""A lean HTTP/1.1 and WebSocket client for the load test, on asyncio protocols.

The load generator shares two cores with the server it measures, so every
microsecond it spends is taken from the server and shows up in the latencies.
aiohttp costs ~0.5 ms of CPU a request here; this client prebuilds each request's
bytes, keeps persistent keep-alive connections, parses responses with httptools (C)
and records a latency from the protocol callback, with no task or future per request
(~0.05 ms). WebSocket clients only split frames and keep (receipt time, payload);
the JSON is read after the run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import deque
from typing import Callable
from urllib.parse import urlsplit

import httptools


def request_bytes(method: str, host: str, path: str, headers: dict[str, str],
                  body: dict | None = None) -> bytes:
    """One complete HTTP/1.1 request, built once before the run."""
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive",
             f"Content-Length: {len(data)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class _HttpConn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, pool: "HttpPool") -> None:
        self.pool, self.transport = pool, None
        self.parser = httptools.HttpResponseParser(self)
        self.t0, self.done, self.body = 0.0, None, []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, raw: bytes, done: Callable[[int, bytes, float], None]) -> None:
        self.done, self.body = done, []
        self.t0 = time.perf_counter()
        self.transport.write(raw)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        elapsed_ms = (time.perf_counter() - self.t0) * 1000
        done, self.done = self.done, None
        status = self.parser.get_status_code()
        self.pool.idle.append(self)
        done(status, b"".join(self.body), elapsed_ms)
        self.pool.wake()

    def connection_lost(self, exc) -> None:
        if self in self.pool.idle:
            self.pool.idle.remove(self)
        self.pool.size -= 1
        if self.done is not None:  # the server closed with our request unanswered
            done, self.done = self.done, None
            done(0, b"connection lost", (time.perf_counter() - self.t0) * 1000)


class HttpPool:
    """Up to `limit` keep-alive connections to one server; requests wait for a free one."""

    def __init__(self, url: str, limit: int = 256) -> None:
        u = urlsplit(url)
        self.host, self.port, self.limit = u.hostname, u.port or 80, limit
        self.hostport = f"{self.host}:{self.port}"
        self.idle: deque[_HttpConn] = deque()
        self.size = 0
        self._waiting: deque[tuple[bytes, Callable, float]] = deque()
        self._opening = 0

    async def open(self, n: int) -> None:
        """Connect `n` connections up front (connecting during the run costs latency)."""
        loop = asyncio.get_running_loop()
        for _ in range(n):
            self.size += 1
            _, conn = await loop.create_connection(lambda: _HttpConn(self), self.host,
                                                   self.port)
            self.idle.append(conn)

    def send(self, raw: bytes, done: Callable[[int, bytes, float], None]) -> None:
        """Send now on an idle connection, or queue (latency counts from the send)."""
        if self.idle:
            self.idle.popleft().send(raw, done)
            return
        t_queued = time.perf_counter()
        self._waiting.append((raw, done, t_queued))
        if self.size + self._opening < self.limit:
            self._opening += 1
            asyncio.ensure_future(self._grow())

    async def _grow(self) -> None:
        try:
            await self.open(1)
        finally:
            self._opening -= 1
        self.wake()

    def wake(self) -> None:
        while self._waiting and self.idle:
            raw, done, t_queued = self._waiting.popleft()
            waited_ms = (time.perf_counter() - t_queued) * 1000
            self.idle.popleft().send(raw, lambda s, b, ms, d=done, w=waited_ms: d(s, b, ms + w))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """A request awaited (for set-up and one-off calls, not the measured loop)."""
        fut = asyncio.get_running_loop().create_future()
        self.send(raw, lambda s, b, ms: fut.done() or fut.set_result((s, b)))
        return await fut

    def close(self) -> None:
        for conn in list(self.idle):
            conn.transport.close()


class _WsConn(asyncio.Protocol):
    """A WebSocket client that records (receipt time, text payload) of each frame."""

    def __init__(self, received: list) -> None:
        self.received, self.buf, self.open = received, b"", False
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport = None
        self.closing = False  # we asked to close: a loss after that is no drop
        self.lost_at: float | None = None  # when the connection ended, by either side

    def connection_lost(self, exc) -> None:
        self.lost_at = time.time()
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(str(exc or "closed")))

    @property
    def dropped(self) -> bool:
        """The connection ended without this client asking it to."""
        return self.lost_at is not None and not self.closing

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.open:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self.handshake.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.open, self.buf = True, rest
            self.handshake.set_result(None)
        self._frames(now)

    def _frames(self, now: float) -> None:
        buf = self.buf
        while len(buf) >= 2:
            n, start = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, start = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + n:
                break
            opcode = buf[0] & 0x0F
            if opcode == 1:  # text frame (the server sends no fragments)
                self.received.append((now, buf[start:start + n]))
            elif opcode == 9:  # ping: a server drops a client that never pongs
                self._send_frame(0x8A, buf[start:start + n])
            buf = buf[start + n:]
        self.buf = buf

    def send_text(self, text: str) -> None:
        """A masked client text frame (short payloads only)."""
        self._send_frame(0x81, text.encode())

    def _send_frame(self, head: int, data: bytes) -> None:
        """A masked client frame of under 126 bytes (text, pong)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes([head, 0x80 | len(data)]) + mask + masked)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"\x88\x82" + b"\0\0\0\0" + b"\x03\xe8")
            self.transport.close()


async def ws_connect(url: str, received: list) -> _WsConn:
    """Open a WebSocket (`ws://host:port/path?query`) and complete the handshake."""
    u = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: _WsConn(received), u.hostname, u.port)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + (f"?{u.query}" if u.query else "")
    conn.transport.write((f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                          "\r\n").encode())
    await asyncio.wait_for(conn.handshake, 30)
    return conn
