"""WebSocket fan-out: each client gets its merchant's events of the types it asked for.

Connect to `/ws?token=<JWT>` (or with an Authorization header), optionally send
`{"subscribe": ["payment_processed", "reward_minted", "fraud_detected"]}`.
A slow client has its own queue and writer task, so it never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from starlette.websockets import WebSocket, WebSocketDisconnect

from serving import observability as obs
from serving.events import EVENT_TYPES, Event
from serving.security import ApiError, Principal


class _Client:
    def __init__(self, ws: WebSocket, who: Principal) -> None:
        self.ws, self.who = ws, who
        self.types: set[str] = set(EVENT_TYPES)
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self.sending = False
        self.send = ws._send  # the raw ASGI send: one dict per frame, no state checks


class Hub:
    """Connected clients by merchant; the bus calls `deliver` for every event."""

    def __init__(self) -> None:
        self._by_merchant: dict[str, set[_Client]] = {}
        self._admins: set[_Client] = set()

    @property
    def size(self) -> int:
        return sum(len(s) for s in self._by_merchant.values())

    async def deliver(self, event: Event) -> None:
        """Send straight away to clients without a backlog (no task switch per client);
        a client whose socket pushes back gets the rest through its own queue."""
        message = {"type": "websocket.send", "text": event.model_dump_json()}
        with obs.WS_FANOUT.time():
            await self._fan_out(event, message)

    async def _fan_out(self, event: Event, message: dict) -> None:
        for client in self._by_merchant.get(event.merchant_id, set()) | self._admins:
            if event.type not in client.types:
                continue
            if client.queue.empty() and not client.sending:
                client.sending = True
                try:
                    await client.send(message)
                except Exception:  # a closed socket: its reader will clean up
                    pass
                finally:
                    client.sending = False
            else:
                with contextlib.suppress(asyncio.QueueFull):
                    client.queue.put_nowait(message["text"])

    async def serve(self, ws: WebSocket, who: Principal) -> None:
        """Run one connection until the client leaves."""
        client = _Client(ws, who)
        group = self._admins if "admin" in who.scopes else self._by_merchant.setdefault(
            who.merchant_id, set())
        await ws.accept()
        group.add(client)
        obs.WS_CLIENTS.set(self.size + len(self._admins))
        writer = asyncio.create_task(self._write(client))
        try:
            await ws.send_text(json.dumps({"type": "subscribed", "merchant_id":
                                           who.merchant_id, "types": sorted(client.types)}))
            await self._read(client)
        finally:
            group.discard(client)
            writer.cancel()
            obs.WS_CLIENTS.set(self.size + len(self._admins))

    async def _read(self, client: _Client) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                msg = await client.ws.receive_text()
                types = _parse_subscribe(msg)
                if types is None:
                    await client.ws.send_text(json.dumps({
                        "type": "error", "message": "send {\"subscribe\": [types]} with "
                        "types among " + ", ".join(EVENT_TYPES)}))
                    continue
                client.types = types
                await client.ws.send_text(json.dumps({"type": "subscribed",
                                                      "types": sorted(types)}))

    async def _write(self, client: _Client) -> None:
        with contextlib.suppress(Exception):
            while True:
                text = await client.queue.get()
                client.sending = True
                try:
                    await client.send({"type": "websocket.send", "text": text})
                finally:
                    client.sending = False


def _parse_subscribe(msg: str) -> set[str] | None:
    try:
        types = json.loads(msg).get("subscribe")
    except (ValueError, AttributeError):
        return None
    if not isinstance(types, list) or not set(types) <= set(EVENT_TYPES):
        return None
    return set(types)


def ws_credentials(ws: WebSocket) -> str | None:
    """The bearer credential from the header or the `token` query parameter."""
    header = ws.headers.get("authorization")
    token = ws.query_params.get("token")
    return header or (f"Bearer {token}" if token else None)


__all__ = ["ApiError", "Hub", "ws_credentials"]
