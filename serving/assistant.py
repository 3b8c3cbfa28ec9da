"""Adapter from `integrations.rag.Assistant` to the flow's `AssistantPort`.

The assistant (MiniLM, FAISS, BM25) loads on the first question, not at start-up, so
the payment path never waits for it; a load failure answers 503 with the reason.
The asker's own payments come from the ledger, scoped to the merchant and, when
`/chat` names a `user_id`, to that user (the ledger query filters, the assistant again).
"""

from __future__ import annotations

import asyncio
import logging

from serving.ledger import Ledger
from serving.security import ApiError

log = logging.getLogger("smartpay.assistant")


def reward_words(reward: dict | None, decimals: int) -> str | None:
    """A payment's reward as the assistant says it: '1.234 SmartReward (escrowed)'."""
    if not reward or not reward.get("amount"):
        return None
    tokens = reward["amount"] / 10 ** decimals
    return f"{tokens:,.{decimals}f}".rstrip("0").rstrip(".") + \
        f" SmartReward ({reward.get('status', 'unknown')})"


def ledger_facts(ledger: Ledger, loop: asyncio.AbstractEventLoop, decimals: int = 6):
    """A transactions provider over the async ledger for the assistant's worker
    thread: the read runs on the service's loop, the thread waits for it. Each row
    carries what the payment earned, so a user asking about their payment hears of
    their reward too."""
    from integrations.rag import TransactionFact

    def provider(user_id: str | None, merchant_id: str) -> list:
        rows = asyncio.run_coroutine_threadsafe(
            ledger.recent(merchant_id, user_id, limit=20), loop).result(timeout=10)
        return [TransactionFact(id=r["id"], merchant_id=r["merchant_id"],
                                user_id=r["user_id"], amount_minor=r["amount_minor"],
                                currency=r["currency"], status=r["status"],
                                created_at=r["created_at"], reason_code=None,
                                description=r["reason"] or "", gateway=r["gateway"],
                                reward=reward_words(r["reward"], decimals))
                for r in rows]
    return provider


class AssistantAdapter:
    """Lazily built `Assistant`; answers as `{"answer", "sources", "cached"}`."""

    def __init__(self, ledger: Ledger, settings=None) -> None:
        self.ledger, self.settings = ledger, settings
        self._assistant = None
        self._lock = asyncio.Lock()

    async def _get(self):
        async with self._lock:
            if self._assistant is None:
                from integrations.rag import Assistant

                from smartpay.settings import get_settings

                decimals = (self.settings or get_settings()).rewards.decimals
                try:
                    self._assistant = await asyncio.to_thread(
                        Assistant.from_settings, self.settings,
                        ledger_facts(self.ledger, asyncio.get_running_loop(), decimals))
                except Exception as exc:
                    log.exception("assistant failed to load")
                    raise ApiError(503, "assistant_unavailable", "the assistant could "
                                   f"not be loaded: {exc}") from None
        return self._assistant

    async def warm(self) -> bool:
        """Load the assistant now if a saved KB index exists, and run one search so
        the model's first call is paid here, not by the first /chat. False: no index."""
        from integrations.rag.config import rag_config
        from smartpay.settings import get_settings

        config = rag_config(self.settings or get_settings())
        if not (config.index_dir / "meta.json").exists():
            return False
        assistant = await self._get()
        await asyncio.to_thread(assistant.index.search, "warm up", "hybrid", 1)
        return True

    async def answer(self, merchant_id: str, message: str, session_id: str | None,
                     user_id: str | None = None) -> dict:
        """Answer for the merchant, or for one of its users (their payments only)."""
        assistant = await self._get()
        out = await assistant.answer_async(message, user_id, merchant_id, session_id)
        return {"answer": out.text, "cached": out.cached,
                "sources": [f"[{c.n}] {c.title} ({c.id})" for c in out.citations]}
