"""The fraud scorer backend on a SageMaker endpoint: invoke_endpoint through boto3,
forwarded by the harness's runtime stand-in to the packaged champion served with the
container's own entrypoint; scores equal the champion's."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from harness.processes import free_port, server_process
from harness.sagemaker_runtime import running_runtime
from models.deploy import sagemaker as sm
from serving.backends_sagemaker import SageMakerFraudModel, runtime_client
from smartpay.settings import Settings
from tests.models import tiny

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def endpoint(tmp_path):
    """The packaged tiny champion served on a free port; (predictor, URL)."""
    champion = tiny.fraud_predictor()
    with tarfile.open(sm.package(champion, tmp_path / "pkg")) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    port = free_port()
    with server_process([sys.executable, "-m", "models.deploy.inference_server", "serve"],
                        f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log",
                        env={"SM_MODEL_DIR": str(tmp_path / "model"),
                             "SAGEMAKER_BIND_TO_PORT": str(port)}, cwd=REPO):
        yield champion, f"http://127.0.0.1:{port}"


def test_the_sagemaker_backend_scores_like_the_champion_through_invoke_endpoint(
        endpoint, monkeypatch):
    champion, url = endpoint
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "SMARTPAY_AWS__REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    rows = tiny.fraud_frame(25, seed=4).to_dict("records")
    with running_runtime({"fraud-detector": url}) as runtime_url:
        monkeypatch.setenv("SMARTPAY_AWS__SAGEMAKER_RUNTIME_URL", runtime_url)
        backend = SageMakerFraudModel(
            lambda rs: np.array([[r[f] for f in tiny.FEATURES] for r in rs], np.float32),
            champion.thresholds, "1", runtime_client(Settings()), "fraud-detector")
        out = backend.predict(rows)
    expected = champion.scores(tiny.fraud_frame(25, seed=4))
    np.testing.assert_allclose([o["risk_score"] for o in out], expected, atol=1e-6)
    assert [o["decision"] for o in out] == [champion.thresholds.decide(s)
                                            for s in expected]
