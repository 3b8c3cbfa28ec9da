"""Idempotency-Key handling: same key and body -> the first answer; same key, other body
-> 409; concurrent duplicates wait for the first and get its answer (one charge).

Within one process an in-flight future makes duplicates wait without polling; across
processes the ledger's primary key on (merchant, key) decides who runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Awaitable, Callable

from serving.ledger import Ledger
from serving.security import ApiError

Work = Callable[[], Awaitable[tuple[int, dict]]]


def body_hash(scope: str, body: dict) -> str:
    """A stable hash of what the request asks for (key order does not matter)."""
    raw = json.dumps({"scope": scope, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def check_key(key: str | None) -> str:
    if not key or not (1 <= len(key) <= 128) or not key.isprintable():
        raise ApiError(400, "idempotency_key_required",
                       "header Idempotency-Key is required: 1-128 printable characters, "
                       "unique per distinct request (e.g. a UUID)")
    return key


class Idempotency:
    """Runs `work` at most once per (merchant, key) and replays its answer."""

    def __init__(self, ledger: Ledger, wait_s: float = 10.0) -> None:
        self.ledger, self.wait_s = ledger, wait_s
        self._inflight: dict[tuple[str, str], asyncio.Future] = {}

    async def run(self, merchant: str, key: str, digest: str, work: Work) -> tuple[int, dict]:
        waiting = self._inflight.get((merchant, key))
        if waiting is not None:
            await asyncio.shield(waiting)
        claim = self.ledger.claim(merchant, key, digest)
        if claim.kind == "conflict":
            raise ApiError(409, "idempotency_conflict", f"Idempotency-Key {key!r} was "
                           "already used with a different request body")
        if claim.kind == "replay":
            return claim.status_code or 200, claim.response or {}
        if claim.kind == "in_progress":
            return await self._poll(merchant, key, digest, work)
        return await self._first(merchant, key, work)

    async def _first(self, merchant: str, key: str, work: Work) -> tuple[int, dict]:
        fut = asyncio.get_running_loop().create_future()
        self._inflight[(merchant, key)] = fut
        try:
            status, body = await work()
            self.ledger.finish(merchant, key, status, body)
            return status, body
        except ApiError:
            self.ledger.release(merchant, key)  # nothing was written: key reusable
            raise
        finally:
            self._inflight.pop((merchant, key), None)
            fut.set_result(None)

    async def _poll(self, merchant: str, key: str, digest: str,
                    work: Work) -> tuple[int, dict]:
        """Another process holds the key: wait for its answer."""
        end = time.monotonic() + self.wait_s
        while time.monotonic() < end:
            await asyncio.sleep(0.02)
            claim = self.ledger.claim(merchant, key, digest)
            if claim.kind == "replay":
                return claim.status_code or 200, claim.response or {}
            if claim.kind == "new":  # the holder gave up and released it: our turn
                return await self._first(merchant, key, work)
        raise ApiError(409, "idempotency_in_progress", f"a request with Idempotency-Key "
                       f"{key!r} is still being processed; retry later")
