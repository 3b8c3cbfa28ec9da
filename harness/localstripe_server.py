"""The localstripe app as the harness serves it (run as `python -m
harness.localstripe_server PORT` by `harness.localstripe.run_localstripe`).

Where localstripe differs from Stripe in ways that hide money bugs, this puts Stripe's
behaviour back, around its aiohttp app, so the official client talks to it unchanged:

- `Idempotency-Key` is honoured as Stripe does: the same key with the same method,
  path and body replays the first answer (`Idempotent-Replayed: true`); with different
  ones it is a 400 `idempotency_error`; while the first request runs, a 409. Keys are
  scoped to the API key. Validation failures (400) and server errors are not saved.
- A refund larger than what is left of its charge is refused (400 `amount_too_large`);
  localstripe refunds any amount. The check and the refund run under one lock.
- `GET /v1/payment_intents/search` answers a `metadata['payment_id']:'...'` query
  (localstripe has no search, so finding one payment meant listing every intent,
  which stops fitting in a gateway call's deadline after a few thousand payments).
- No disk writes (its store is pickled to /tmp on every write, shared by every
  instance), and lists read an index by object kind instead of scanning the store.
  Given a state file (`python -m harness.localstripe_server PORT STATE`), the objects
  and saved idempotent answers are written there when the server stops (SIGTERM) and
  read back when it starts: a stopped and restarted stand-in keeps its books, as
  Stripe does across its own restarts (the chaos benchmark restarts it mid-run).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
import re
import sys
from pathlib import Path

from aiohttp import web

_MISMATCH = (
    "Keys for idempotent requests can only be used with the same parameters "
    "they were first used with. Try using a key other than {key!r} if you "
    "meant to execute a different request."
)
_UNSAVED = frozenset({400, 401, 409, 429})


class IndexedStore(dict):
    """localstripe's store without the disk writes, its objects indexed by kind."""

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


def _error(
    status: int, kind: str, message: str, code: str | None = None
) -> web.Response:
    body = {
        "error": {"type": kind, "message": message, **({"code": code} if code else {})}
    }
    return web.json_response(body, status=status)


class Idempotency:
    """Stripe's idempotent requests: one saved answer per (API key, Idempotency-Key)."""

    def __init__(self) -> None:
        self.saved: dict[tuple, tuple[str, int, bytes]] = {}
        self.running: set[tuple] = set()

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        scope = (request.headers.get("Authorization", ""), key)
        body = await request.read()
        digest = hashlib.sha256(f"{request.method} {request.path}\n".encode() + body)
        fingerprint = digest.hexdigest()
        if scope in self.saved:
            return self._replay(key, fingerprint, *self.saved[scope])
        if scope in self.running:
            return _error(
                409,
                "idempotency_error",
                "There is currently another "
                "in-progress request using this Idempotent Key.",
                "idempotency_key_in_use",
            )
        self.running.add(scope)
        try:
            resp = await handler(request)
        finally:
            self.running.discard(scope)
        if resp.status < 500 and resp.status not in _UNSAVED and resp.body is not None:
            self.saved[scope] = (fingerprint, resp.status, bytes(resp.body))
        return resp

    @staticmethod
    def _replay(
        key: str, fingerprint: str, first: str, status: int, body: bytes
    ) -> web.Response:
        if fingerprint != first:
            return _error(400, "idempotency_error", _MISMATCH.format(key=key))
        return web.Response(
            body=body,
            status=status,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
        )


def refund_cap(resources):
    """A middleware refusing refunds above what is left of the charge, atomically."""
    lock = asyncio.Lock()

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != "/v1/refunds":
            return await handler(request)
        data = await request.post()
        async with lock:
            left, amount = _refundable(resources, data), data.get("amount", "")
            if left is not None and amount.isdigit() and int(amount) > left:
                return _error(
                    400,
                    "invalid_request_error",
                    f"Refund amount "
                    f"({amount}) is greater than unrefunded amount on "
                    f"charge ({left})",
                    "amount_too_large",
                )
            return await handler(request)

    return middleware


def _refundable(resources, data) -> int | None:
    """What is left to refund on the charge a refund request names (None: unknown,
    localstripe's own checks answer)."""
    try:
        if data.get("payment_intent"):
            intent = resources.PaymentIntent._api_retrieve(data["payment_intent"])
            charge = intent.latest_charge
        elif data.get("charge"):
            charge = resources.Charge._api_retrieve(data["charge"])
        else:
            return None
    except resources.UserError:  # a missing object: localstripe answers its own 404
        return None
    if charge is None or not getattr(charge, "captured", False):
        return None
    return int(charge.amount) - int(charge.amount_refunded)


def _list_all(resources):
    def list_all(cls, url, limit=None, starting_after=None, **kwargs):
        # upstream scans the whole store, and renders each charge with three such
        # scans (its refunds): a payment would cost more the more came before it
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        li = resources.List(url, limit=limit, starting_after=starting_after)
        li._list = list(resources.store.kinds.get(cls.object, {}).values())
        return li

    return classmethod(list_all)


_SEARCH = re.compile(r"^metadata\['payment_id'\]:'([^']*)'$")


def intent_search(resources):
    """A middleware answering Stripe's payment intent search by our payment id (the
    one query the gateway adapter makes), behind localstripe's own auth check."""

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        if request.method != "GET" or request.path != "/v1/payment_intents/search":
            return await handler(request)
        match = _SEARCH.match(request.query.get("query", ""))
        if match is None:
            return _error(400, "invalid_request_error",
                          "only metadata['payment_id']:'...' queries are supported")
        intents = resources.store.kinds.get("payment_intent", {}).values()
        hits = [i._export() for i in intents
                if (getattr(i, "metadata", None) or {}).get("payment_id") == match[1]]
        return web.json_response({"object": "search_result", "data": hits,
                                  "has_more": False, "next_page": None,
                                  "url": "/v1/payment_intents/search"})

    return middleware


def build_app(state: Path | None = None) -> web.Application:
    """localstripe's app with Stripe's idempotency and refund rules in front of it, its
    in-memory store fresh, or read from `state` (and written back there on stop)."""
    from localstripe import resources

    resources.store = IndexedStore()
    resources.StripeObject._api_list_all = _list_all(resources)
    from localstripe import server

    server.store = resources.store
    idem = Idempotency()
    if state is not None:
        _load(state, resources.store, idem)
        server.app.on_cleanup.append(lambda _app: _save(state, resources.store, idem))
    server.app.middlewares.append(intent_search(resources))
    server.app.middlewares.insert(0, refund_cap(resources))
    server.app.middlewares.insert(0, idem.middleware)
    return server.app


def _load(state: Path, store: IndexedStore, idem: Idempotency) -> None:
    """The objects and idempotent answers a previous run saved, if it saved any."""
    if not state.is_file():
        return
    with state.open("rb") as f:
        saved = pickle.load(f)  # written by _save of this harness only
    for key, value in saved["store"].items():
        store[key] = value
    idem.saved.update(saved["idempotency"])


async def _save(state: Path, store: IndexedStore, idem: Idempotency) -> None:
    """Write the books atomically (a half-written file would lose them all)."""
    tmp = state.with_name(state.name + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump({"store": dict(store), "idempotency": idem.saved}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, state)


def main(port: int, state: Path | None = None) -> None:
    """Serve on 127.0.0.1 only."""
    web.run_app(build_app(state), host="127.0.0.1", port=port, print=None,
                access_log=None)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
