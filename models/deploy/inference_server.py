"""The fraud detector behind SageMaker's container contract: `GET /ping` and
`POST /invocations` on port 8080, the model unpacked in `/opt/ml/model`.

The image runs `python -m models.deploy.inference_server serve` (SageMaker starts a
container with the argument `serve`); tests run the same entrypoint on a packaged
champion. Standard library and xgboost only, so the image stays small. Input:
`text/csv` rows of the features in the package's order (SageMaker's XGBoost
convention; the answer is one score a line) or JSON `{"instances": [{feature: value}]}`
(the answer: `{"predictions": [{"score", "decision"}]}`).
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import xgboost as xgb

BOOSTER_FILE = "xgboost-model"  # the name SageMaker's XGBoost container reads
METADATA_FILE = "smartpay-model.json"


class Model:
    """A packaged booster with its feature order and decision thresholds."""

    def __init__(self, folder: Path) -> None:
        self.booster = xgb.Booster()
        self.booster.load_model(str(folder / BOOSTER_FILE))
        self.booster.set_param({"nthread": 1})
        meta = json.loads((folder / METADATA_FILE).read_text())
        self.features, self.thresholds = meta["features"], meta["thresholds"]
        self.version = meta.get("version")

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Fraud probability of each row (the champion's `score_matrix`)."""
        return np.asarray(self.booster.inplace_predict(x, validate_features=False),
                          dtype=float)

    def decision(self, score: float) -> str:
        t = self.thresholds
        return ("decline" if score >= t["decline"] else "review"
                if score >= t["review"] else "approve")

    def matrix(self, instances: list[dict]) -> np.ndarray:
        return np.array([[float(row.get(f, np.nan)) for f in self.features]
                         for row in instances], dtype=np.float32).reshape(-1, len(self.features))


def invoke(model: Model, body: bytes, content_type: str) -> tuple[bytes, str]:
    """The response body and its content type for one invocation."""
    if content_type.startswith("text/csv"):
        rows = [line.split(",") for line in body.decode().splitlines() if line.strip()]
        x = np.array(rows, dtype=np.float32).reshape(-1, len(model.features))
        return "\n".join(repr(float(s)) for s in model.scores(x)).encode(), "text/csv"
    instances = json.loads(body)["instances"]
    scores = model.scores(model.matrix(instances))
    out = [{"score": float(s), "decision": model.decision(float(s))} for s in scores]
    return json.dumps({"predictions": out}).encode(), "application/json"


def handler(model: Model) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200 if self.path == "/ping" else 404, b"", "text/plain")

        def do_POST(self) -> None:
            if self.path != "/invocations":
                return self._reply(404, b"", "text/plain")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                out, ctype = invoke(model, body, self.headers.get("Content-Type", ""))
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(400, f"bad input: {exc}".encode(), "text/plain")
            self._reply(200, out, ctype)

        def _reply(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # access logs would carry no value here
            pass

    return Handler


def serve(model_dir: Path, port: int) -> None:
    """Load the package once and answer until stopped."""
    server = ThreadingHTTPServer(("0.0.0.0", port), handler(Model(model_dir)))
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        sys.exit("usage: python -m models.deploy.inference_server serve")
    serve(Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")),
          int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")))
