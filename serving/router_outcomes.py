"""Router outcomes across router workers and replicas (prod profile, Redis pub/sub).

A router process keeps each decision it made (context, propensity, the VW example)
until its outcome arrives, and learns only from outcomes of its own decisions. With
several router workers, or several router pods behind one Service, an outcome may
reach a process that did not make the decision. That process publishes it on
`<prefix>:router-outcomes`; every other router process tries it, and each answers
on the sender's own reply channel whether it learned it. The sender returns as soon
as one learned it, or every receiver said no, or after `wait_s`.

So every outcome is learned by the policy that made its decision: each worker is an
online learner over the decisions it makes, and checkpoints its own state (the
newest checkpoint of a version is what every worker starts from after a restart).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable

from smartpay.errors import SmartPayError

log = logging.getLogger("smartpay.router_outcomes")
Learn = Callable[[str, dict], None]


class OutcomeForwarding:
    """One router process's end of the outcome channel; `start` and `stop` bracket
    its life (the service's start-up and shutdown hooks)."""

    def __init__(self, redis_url: str, prefix: str, learn: Learn,
                 wait_s: float = 1.0) -> None:
        self.url, self.learn, self.wait_s = redis_url, learn, wait_s
        self.channel = f"{prefix}:router-outcomes"
        self.me = uuid.uuid4().hex
        self.replies = f"{self.channel}:{self.me}"
        self._asks: dict[str, _Ask] = {}
        self._task: asyncio.Task | None = None
        self.learned_for_others = 0

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._r = aioredis.from_url(self.url, decode_responses=True)
        self._pubsub = self._r.pubsub()
        await self._pubsub.subscribe(self.channel, self.replies)
        self._task = asyncio.create_task(self._listen(), name="router-outcomes")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self._pubsub.aclose()
        await self._r.aclose()

    async def forward(self, decision_id: str, outcome: dict, why: str) -> dict:
        """Have the process holding `decision_id` learn `outcome`; the answer says
        whether one did (`why`: this process's own reason for not learning it)."""
        ask = _Ask(asyncio.get_running_loop().create_future())
        key = uuid.uuid4().hex
        self._asks[key] = ask
        try:
            receivers = await self._r.publish(self.channel, json.dumps(
                {"ask": key, "from": self.me, "decision_id": decision_id,
                 "outcome": outcome}))
            ask.expect(receivers - 1)  # our own subscription received it too
            async with asyncio.timeout(self.wait_s):
                if await ask.future:
                    return {"learned": True}
        except TimeoutError:
            pass
        finally:
            self._asks.pop(key, None)
        return {"learned": False, "reason": f"{why} (nor by any other router worker)"}

    async def _listen(self) -> None:
        """Handle messages until stopped; a lost Redis connection is retried every
        second (meanwhile forwarded outcomes go unanswered and are not learned)."""
        from redis.exceptions import ConnectionError as RedisDown

        while True:
            try:
                async for msg in self._pubsub.listen():
                    if msg.get("type") == "message":
                        await self._handle(msg)
            except (RedisDown, OSError) as exc:
                log.warning("router outcome channel: %s; retrying in 1 s", exc)
                await asyncio.sleep(1.0)

    async def _handle(self, msg: dict) -> None:
        try:
            data = json.loads(msg["data"])
            if msg["channel"] == self.channel:
                await self._try(data)
            else:
                self._answered(data)
        except Exception:  # noqa: BLE001 - one bad message must not stop the rest
            log.exception("router outcome message could not be handled")

    async def _try(self, data: dict) -> None:
        """Another process's outcome: learn it if the decision is ours, and say so."""
        if data["from"] == self.me:
            return
        try:
            self.learn(data["decision_id"], data["outcome"])
            learned = True
            self.learned_for_others += 1
        except SmartPayError:  # not a decision of ours
            learned = False
        await self._r.publish(f"{self.channel}:{data['from']}",
                              json.dumps({"ask": data["ask"], "learned": learned}))

    def _answered(self, data: dict) -> None:
        ask = self._asks.get(data.get("ask"))
        if ask is not None:
            ask.answer(bool(data.get("learned")))


class _Ask:
    """One forwarded outcome: resolves True at the first process that learned it,
    False once every receiver declined."""

    def __init__(self, future: asyncio.Future) -> None:
        self.future, self.declined, self.receivers = future, 0, None

    def expect(self, receivers: int) -> None:
        self.receivers = receivers
        self._settle()

    def answer(self, learned: bool) -> None:
        if learned:
            self._resolve(True)
        else:
            self.declined += 1
            self._settle()

    def _settle(self) -> None:
        if self.receivers is not None and self.declined >= self.receivers:
            self._resolve(False)

    def _resolve(self, value: bool) -> None:
        if not self.future.done():
            self.future.set_result(value)


async def learn_or_forward(learn: Learn, forwarding: OutcomeForwarding | None,
                           decision_id: str, outcome: dict) -> dict:
    """Learn an outcome here, or (when this process does not hold its decision and
    forwarding runs) in the router process that does. The answer names the result."""
    try:
        learn(decision_id, outcome)
    except SmartPayError as exc:
        if forwarding is None or not forwarding.running:
            return {"learned": False, "reason": str(exc)}
        return await forwarding.forward(decision_id, outcome, str(exc))
    return {"learned": True}


def outcome_forwarding(settings, learn: Learn) -> OutcomeForwarding | None:
    """The prod profile's forwarding (router workers and pods share Redis); None
    locally, where one router process holds every decision."""
    if settings.profile != "prod":
        return None
    return OutcomeForwarding(settings.redis_url, settings.serving.redis_prefix, learn)


__all__ = ["OutcomeForwarding", "learn_or_forward", "outcome_forwarding"]
