"""WebSocket fan-out: each client gets its merchant's events of the types it asked for.

Connect to `/ws?token=<JWT>` (or with an Authorization header), optionally send
`{"subscribe": ["payment_processed", "reward_minted", "fraud_detected"]}`.
A connection ends with a close frame saying why: 1008 when its token expires, 1003
for a binary frame, 1007 for text that is not JSON, 1009 for a message over 4 KiB.
A slow client has its own queue and writer task, so it never delays the others.
Under uvicorn each event is framed once and written straight to every socket
(`serving.ws_wire`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from serving import observability as obs
from serving.events import EVENT_TYPES, Deduper, Event
from serving.security import ApiError, Principal
from serving.ws_wire import direct_writer, text_frame


# Close codes (RFC 6455 section 7.4.1) and reasons this endpoint uses.
EXPIRED = (1008, "token expired; reconnect with a fresh token")
UNSUPPORTED = (1003, "binary frames are not accepted; send JSON text")
NOT_JSON = (1007, "messages must be JSON text, e.g. {\"subscribe\": [types]}")
TOO_BIG = (1009, "message too big")
MAX_MESSAGE_CHARS = 4_096  # a subscribe message is a few dozen characters
_MAX_WAIT_S = 60.0  # how long one receive waits before the expiry is looked at again


class _Client:
    def __init__(self, ws: WebSocket, who: Principal) -> None:
        self.ws, self.who = ws, who
        self.types: frozenset[str] = frozenset(EVENT_TYPES)
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self.sending = False
        self.send = ws._send  # the raw ASGI send: one dict per frame, no state checks
        client = ws.scope.get("client")
        self.direct = direct_writer(ws._send, tuple(client) if client else None)


class Hub:
    """Connected clients by merchant; the bus calls `deliver` for every event."""

    def __init__(self) -> None:
        self._by_merchant: dict[str, set[_Client]] = {}
        self._admins: set[_Client] = set()
        self._pending: list[Event] = []
        self._flush_scheduled = False
        self._fanned_out = Deduper()  # events come at least once; clients see one

    @property
    def size(self) -> int:
        return sum(len(s) for s in self._by_merchant.values())

    async def deliver(self, event: Event) -> None:
        """Queue the event for the next fan-out, which runs as soon as the bus yields:
        events published together (a payment's `reward_minted` and
        `payment_processed`) reach each socket in one write, since the kernel's cost
        per socket write is most of a fan-out's time. An event id seen before is
        dropped."""
        if not self._fanned_out.add(event.id):
            return
        self._pending.append(event)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        events, self._pending = self._pending, []
        t0, reached = time.perf_counter(), 0
        for merchant in dict.fromkeys(e.merchant_id for e in events):
            mine = [e for e in events if e.merchant_id == merchant]
            texts = [e.model_dump_json() for e in mine]
            payloads: dict[frozenset, tuple[list[str], bytes]] = {}
            for group in (self._by_merchant.get(merchant, ()), self._admins):
                for client in group:
                    got = payloads.get(client.types)
                    if got is None:  # one encoding per distinct subscription
                        picked = [t for e, t in zip(mine, texts) if e.type in client.types]
                        got = payloads[client.types] = (
                            picked, b"".join(text_frame(t) for t in picked))
                    reached += self._send_to(client, *got)
        if reached:  # a fan-out to nobody says nothing about fan-out time
            obs.WS_FANOUT.observe(time.perf_counter() - t0)

    @staticmethod
    def _send_to(client: _Client, texts: list[str], frames: bytes) -> int:
        """One write of every frame when the socket is idle; else the client's queue.
        1 when the client had something to receive."""
        if not texts:
            return 0
        if (client.direct is not None and not client.sending and client.queue.empty()
                and client.direct(frames)):
            return 1
        for text in texts:
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(text)
        return 1

    async def serve(self, ws: WebSocket, who: Principal) -> None:
        """Run one connection until the client leaves, its token expires (close 1008)
        or it sends what this protocol does not take (1003, 1007 or 1009)."""
        client = _Client(ws, who)
        group = self._admins if "admin" in who.scopes else self._by_merchant.setdefault(
            who.merchant_id, set())
        await ws.accept()
        group.add(client)
        obs.WS_CLIENTS.set(self.size + len(self._admins))
        writer = asyncio.create_task(self._write(client))
        close: tuple[int, str] | None = None
        try:
            await ws.send_text(json.dumps({"type": "subscribed", "merchant_id":
                                           who.merchant_id, "types": sorted(client.types)}))
            close = await self._read(client)
        except WebSocketDisconnect:
            close = None
        finally:  # out of the fan-out before the close frame: nothing follows it
            group.discard(client)
            writer.cancel()
            obs.WS_CLIENTS.set(self.size + len(self._admins))
        if close is not None:
            with contextlib.suppress(Exception):  # the peer may be gone already
                await ws.close(code=close[0], reason=close[1])

    async def _read(self, client: _Client) -> tuple[int, str] | None:
        """Subscription changes until the peer leaves (None) or the connection must be
        closed: then the close code and reason."""
        while True:
            left = client.who.expires_at - time.time()
            if left <= 0:
                return EXPIRED
            try:
                async with asyncio.timeout(min(left, _MAX_WAIT_S)):
                    msg = await client.ws.receive()
            except TimeoutError:
                continue  # the loop head decides whether the token has expired
            if msg["type"] == "websocket.disconnect":
                return None
            text = msg.get("text")
            if text is None:
                return UNSUPPORTED
            if len(text) > MAX_MESSAGE_CHARS:
                return TOO_BIG
            try:
                parsed = json.loads(text)
            except ValueError:
                return NOT_JSON
            await client.ws.send_text(_answer(client, parsed))

    async def _write(self, client: _Client) -> None:
        with contextlib.suppress(Exception):
            while True:
                text = await client.queue.get()
                client.sending = True
                try:
                    await client.send({"type": "websocket.send", "text": text})
                finally:
                    client.sending = False


def _answer(client: _Client, msg: object) -> str:
    """Apply a `{"subscribe": [types]}` message; anything else gets an error reply
    (the connection stays open: it is a JSON message, just not one we know)."""
    types = msg.get("subscribe") if isinstance(msg, dict) else None
    if (not isinstance(types, list) or not all(isinstance(t, str) for t in types)
            or not set(types) <= set(EVENT_TYPES)):
        return json.dumps({"type": "error", "message": "send {\"subscribe\": [types]} "
                           "with types among " + ", ".join(EVENT_TYPES)})
    client.types = frozenset(types)
    return json.dumps({"type": "subscribed", "types": sorted(types)})


def ws_credentials(ws: WebSocket) -> str | None:
    """The bearer credential from the header or the `token` query parameter."""
    header = ws.headers.get("authorization")
    token = ws.query_params.get("token")
    return header or (f"Bearer {token}" if token else None)


__all__ = ["ApiError", "Hub", "ws_credentials"]
