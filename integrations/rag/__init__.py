"""Support assistant: retrieval-augmented answers over the KB and the asker's payments.

Serving uses `Assistant.from_settings(settings, transactions_provider)` and
`assistant.answer(question, user_id, merchant_id, session_id) -> Answer`.
Importing this package is cheap: torch, faiss and the model load on first use.
"""

from integrations.rag.assistant import Assistant
from integrations.rag.types import Answer, Citation, TransactionFact

__all__ = ["Answer", "Assistant", "Citation", "TransactionFact"]
