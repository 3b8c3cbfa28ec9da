"""A small OpenAI-compatible HTTP server for tests: /v1/embeddings and /v1/chat/completions.

Embeddings are hashed bags of words (a real, deterministic function of the text, so
retrieval over them behaves like a lexical retriever). The "model" follows its system
prompt the simple way: it answers with the first sentence of source 1 and cites [1], or
says it does not know when no source was given. Every request body is recorded.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

API_KEY = "test-key"
DIM = 256
_SOURCE = re.compile(r'<source n="1"[^>]*>(.*?)</source>', re.DOTALL)


def hashed_embedding(text: str) -> list[float]:
    """Bag of lower-case words hashed into DIM buckets, L2-normalised."""
    vec = np.zeros(DIM)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vec[zlib.crc32(word.encode()) % DIM] += 1.0
    norm = np.linalg.norm(vec)
    return list(vec / norm) if norm else list(vec)


def _chat_reply(body: dict) -> str:
    match = _SOURCE.search(body["messages"][-1]["content"])
    if not match:
        return "I don't know."
    first = re.split(r"(?<=[.!?])\s", match.group(1).strip())[0]
    return f"{first} [1]"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._send(401, {"error": {"message": "bad key", "type": "auth"}})
        if self.path.endswith("/embeddings"):
            inputs = (
                body["input"] if isinstance(body["input"], list) else [body["input"]]
            )
            data = [
                {"object": "embedding", "index": i, "embedding": hashed_embedding(t)}
                for i, t in enumerate(inputs)
            ]
            return self._send(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                },
            )
        if self.path.endswith("/chat/completions"):
            message = {"role": "assistant", "content": _chat_reply(body)}
            return self._send(
                200,
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": "stop"}
                    ],
                    "usage": {
                        "prompt_tokens": 1,
                        "completion_tokens": 1,
                        "total_tokens": 2,
                    },
                },
            )
        return self._send(404, {"error": {"message": f"no route {self.path}"}})

    def _send(self, status: int, payload: dict) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


class OpenAIStandIn:
    """Start on 127.0.0.1 with a free port; `.base_url` ends in /v1; `.stop()` shuts down."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.requests = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def requests(self) -> list[tuple[str, dict]]:
        return self.server.requests

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
