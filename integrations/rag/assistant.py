"""The support assistant: the one object serving calls for POST /chat.

    assistant = Assistant.from_settings(settings, transactions_provider)
    answer = assistant.answer(question, user_id=..., merchant_id=..., session_id=...)

`transactions_provider(user_id=..., merchant_id=...)` returns the asker's recent ledger
rows (TransactionFact or dicts of its fields, e.g. serving's ledger rows); serving passes
a query already filtered by the authenticated merchant/user, and the assistant filters
again. `user_id=None` means the merchant itself is asking: every row of that merchant,
and only of that merchant, is in scope. Cache and session keys include merchant and
user, so nobody is ever served another person's answer or history. The cache key also
holds a digest of the asker's rows, so a new or changed payment is never hidden by an
older cached answer. `answer_async` runs `answer` in a worker thread for async servers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re

from integrations.rag.config import RagConfig, rag_config
from integrations.rag.grounded import DONT_KNOW, compose
from integrations.rag.index import KnowledgeIndex
from integrations.rag.llm import OpenAIGenerator
from integrations.rag.memory import MemoryTTLStore, TTLStore
from integrations.rag.redact import redact
from integrations.rag.scope import unknown_terms
from integrations.rag.transactions import (
    TransactionsProvider,
    asks_about_own_payments,
    fact_passage,
    own_facts,
    pick_facts,
)
from integrations.rag.types import Answer, TransactionFact
from smartpay.errors import InputError
from smartpay.settings import Settings, get_settings

log = logging.getLogger("integrations.rag")
MAX_QUESTION_CHARS = 2000
_FOLLOW_UP = re.compile(
    r"\b(it|that|this|they|them|those|these|there)\b", re.IGNORECASE
)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _check(field: str, value: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InputError(
            field, value, f"a non-empty string of at most {limit} characters"
        )
    return value.strip()


class Assistant:
    """Retrieval-augmented answers over the KB and the asker's own transactions."""

    def __init__(
        self,
        index: KnowledgeIndex,
        config: RagConfig,
        transactions_provider: TransactionsProvider | None = None,
        generator: OpenAIGenerator | None = None,
        cache: TTLStore | None = None,
        sessions: TTLStore | None = None,
    ) -> None:
        self.index, self.config, self.provider = index, config, transactions_provider
        self.generator = generator
        self.cache = cache or MemoryTTLStore(config.cache_ttl_s)
        self.sessions = sessions or MemoryTTLStore(config.session_ttl_s)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        transactions_provider: TransactionsProvider | None = None,
    ) -> Assistant:
        """Wire the configured embedder, index, generator and stores (loads MiniLM once)."""
        from integrations.rag import wiring

        config = rag_config(settings or get_settings())
        cache, sessions = wiring.make_stores(config)
        return cls(
            wiring.load_or_build_index(config),
            config,
            transactions_provider,
            wiring.make_generator(config),
            cache,
            sessions,
        )

    def answer(
        self,
        question: str,
        user_id: str | None,
        merchant_id: str,
        session_id: str | None = None,
    ) -> Answer:
        """Answer one question for one authenticated user (None: the merchant), cited."""
        question = redact(_check("question", question, MAX_QUESTION_CHARS))
        merchant_id = _check("merchant_id", merchant_id, 200)
        if user_id is not None:
            user_id = _check("user_id", user_id, 200)
        session = _key(merchant_id, user_id, session_id) if session_id else None
        history = self._history(session)
        facts = self._facts(user_id, merchant_id)
        about = asks_about_own_payments(question, facts)
        picked = pick_facts(question, facts) if about else []
        query = self._query(question, history, picked)
        key = _key(
            merchant_id, user_id, query, about, [f.model_dump_json() for f in facts]
        )
        cached = self.cache.get(key)
        if cached is not None:
            answer = Answer.model_validate_json(cached).model_copy(
                update={"cached": True}
            )
        else:
            answer = self._generate(question, query, history, about, picked)
            self.cache.set(key, answer.model_dump_json())
        self._remember(session, history, question, answer)
        log.info(
            "chat merchant=%s user=%s question=%r confident=%s cached=%s",
            merchant_id,
            user_id,
            question,
            answer.confident,
            answer.cached,
        )
        return answer

    async def answer_async(
        self,
        question: str,
        user_id: str | None,
        merchant_id: str,
        session_id: str | None = None,
    ) -> Answer:
        """`answer` in a worker thread, so an event loop is not blocked by the model."""
        return await asyncio.to_thread(
            self.answer, question, user_id, merchant_id, session_id
        )

    def _facts(self, user_id: str | None, merchant_id: str) -> list[TransactionFact]:
        if self.provider is None:
            return []
        return own_facts(
            self.provider(user_id=user_id, merchant_id=merchant_id),
            user_id,
            merchant_id,
        )

    def _query(
        self, question: str, history: list[dict], picked: list[TransactionFact]
    ) -> str:
        parts = [question]
        if history and (_FOLLOW_UP.search(question) or len(question.split()) <= 4):
            parts.insert(0, history[-1]["q"])
        parts += [f"{f.status} {f.reason_code or ''}".strip() for f in picked]
        return " ".join(parts)

    def _generate(self, question, query, history, about, picked) -> Answer:
        if not picked and unknown_terms(question, self.index.vocabulary):
            # The question names something no guide mentions (a fee, a country, a
            # wallet we do not offer): the nearest page would be a confident wrong answer.
            return Answer(text=DONT_KNOW, citations=[], confident=False)
        result = self.index.search(query, "hybrid", self.config.top_k)
        confident = result.confidence >= self.config.min_confidence
        pinned = self._code_passages(picked)
        if self.generator is None:
            scorer = lambda p: self.index.sentence_similarities(p, result.query_vector)
            return compose(query, result.hits, picked, about, confident, scorer, pinned)
        if not confident and not picked:
            return Answer(text=DONT_KNOW, citations=[], confident=False)
        passages = [fact_passage(f) for f in picked] + pinned
        passages += (
            [h.passage for h in result.hits if h.passage not in pinned]
            if confident
            else []
        )
        return self.generator.generate(question, passages, history)

    def _code_passages(self, picked: list[TransactionFact]) -> list:
        """Guide sections titled with the reason code of the facts (first token that matches)."""
        out = []
        for fact in picked:
            for term in (fact.reason_code or "").split():
                found = self.index.titled(term)
                if found:
                    out += [p for p in found[:1] if p not in out]
                    break
        return out

    def _history(self, session: str | None) -> list[dict]:
        if session is None:
            return []
        raw = self.sessions.get(session)
        return json.loads(raw) if raw else []

    def _remember(self, session, history, question: str, answer: Answer) -> None:
        if session is None:
            return
        turns = (history + [{"q": question, "a": answer.text}])[
            -self.config.session_turns :
        ]
        self.sessions.set(session, json.dumps(turns))
