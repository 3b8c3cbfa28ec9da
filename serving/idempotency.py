"""Idempotency-Key handling: same key and body -> the first answer; same key, other body
-> 409; concurrent duplicates wait for the first and get its answer (one charge).

Within one process an in-flight future makes duplicates wait without polling; across
processes the ledger's primary key on (merchant, key) decides who runs, and its lease
lets a duplicate take over a key whose holder died.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from serving.ledger import Ledger
from serving.security import ApiError

log = logging.getLogger("smartpay.idempotency")
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
    """Runs `work` at most once per (merchant, key) and replays its answer.

    The claim is leased for `lease_s` and renewed while the work runs, so a key is
    taken over by another request only when the process holding it died.
    """

    def __init__(self, ledger: Ledger, wait_s: float = 10.0,
                 lease_s: float = 30.0) -> None:
        self.ledger, self.wait_s, self.lease_s = ledger, wait_s, lease_s
        self._inflight: dict[tuple[str, str], asyncio.Future] = {}

    async def run(self, merchant: str, key: str, digest: str, work: Work) -> tuple[int, dict]:
        waiting = self._inflight.get((merchant, key))
        if waiting is not None:
            await asyncio.shield(waiting)
        claim = await self.ledger.claim(merchant, key, digest, self.lease_s)
        if claim.kind == "conflict":
            raise ApiError(409, "idempotency_conflict", f"Idempotency-Key {key!r} was "
                           "already used with a different request body")
        if claim.kind == "replay":
            return claim.status_code or 200, claim.response or {}
        if claim.kind == "in_progress":
            return await self._poll(merchant, key, digest, work)
        return await self._first(merchant, key, claim.lease_until, work)

    async def _first(self, merchant: str, key: str, lease: datetime | None,
                     work: Work) -> tuple[int, dict]:
        fut = asyncio.get_running_loop().create_future()
        self._inflight[(merchant, key)] = fut
        keeper = asyncio.create_task(self._keep_lease(merchant, key, lease))
        try:
            status, body = await work()
            await self.ledger.finish(merchant, key, status, body)
            return status, body
        except ApiError:
            await self.ledger.release(merchant, key)  # nothing was written: key reusable
            raise
        finally:
            keeper.cancel()
            self._inflight.pop((merchant, key), None)
            fut.set_result(None)

    async def _keep_lease(self, merchant: str, key: str,
                          lease: datetime | None) -> None:
        """Renew the lease every third of its length while the work runs."""
        while lease is not None:
            await asyncio.sleep(self.lease_s / 3)
            try:
                lease = await self.ledger.renew_lease(merchant, key, lease,
                                                      self.lease_s)
            except Exception as exc:  # noqa: BLE001 - the lease still has time left
                log.warning("renewing the lease of key %r failed: %s", key, exc)
        log.error("Idempotency-Key %r of %s was taken over while its request ran",
                  key, merchant)

    async def _poll(self, merchant: str, key: str, digest: str,
                    work: Work) -> tuple[int, dict]:
        """Another request holds the key: wait for its answer, or take the key over
        when it was released or its holder's lease ran out."""
        end = time.monotonic() + self.wait_s
        while time.monotonic() < end:
            await asyncio.sleep(0.02)
            claim = await self.ledger.claim(merchant, key, digest, self.lease_s)
            if claim.kind == "replay":
                return claim.status_code or 200, claim.response or {}
            if claim.kind == "new":
                return await self._first(merchant, key, claim.lease_until, work)
        raise ApiError(409, "idempotency_in_progress", f"a request with Idempotency-Key "
                       f"{key!r} is still being processed; retry later")
