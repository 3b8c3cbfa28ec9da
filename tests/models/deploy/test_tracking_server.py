"""`smartpay deploy tracking-server`: MLflow on PostgreSQL with artifacts in S3 (moto's
server as the S3 stand-in); training, registration and serving work against it."""

from __future__ import annotations

import sys
import uuid

import boto3
import numpy as np
import pytest

from harness.processes import free_port, server_process
from models.fraud.registry import FraudRegistry
from models.router.registry import RouterRegistry
from models.router.serve import load_champion
from tests.models import tiny
from tests.models.deploy.conftest import REPO
from tests.pg import scratch_database

pytestmark = pytest.mark.prod


def test_dry_run_prints_mlflow_server_on_postgres_with_proxied_s3_artifacts(
        monkeypatch, capsys):
    import json

    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("SMARTPAY_POSTGRES_URL", "postgresql+psycopg://u@db:5432/smartpay")
    monkeypatch.setenv("SMARTPAY_TRACKING__S3_ENDPOINT_URL", "http://s3.local:9000")
    res = CliRunner().invoke(app, ["deploy", "tracking-server", "--dry-run"])
    out = json.loads(res.output)
    cmd = out["command"]
    assert cmd[cmd.index("--backend-store-uri") + 1] == "postgresql+psycopg://u@db:5432/mlflow"
    assert cmd[cmd.index("--artifacts-destination") + 1].startswith("s3://")
    assert out["env"]["MLFLOW_S3_ENDPOINT_URL"] == "http://s3.local:9000"


@pytest.fixture
def tracking_server(prod_server, aws, tmp_path):
    """`smartpay deploy tracking-server` on a throwaway database and a fresh bucket."""
    host, port = prod_server("postgres")
    bucket = f"mlflow-{uuid.uuid4().hex[:8]}"
    with scratch_database(host, port) as db:
        http_port = free_port()
        env = {**aws, "SMARTPAY_TRACKING__BACKEND_STORE_URI": db,
               "SMARTPAY_TRACKING__ARTIFACTS_DESTINATION": f"s3://{bucket}/artifacts",
               "SMARTPAY_TRACKING__WORKERS": "1"}
        cmd = [sys.executable, "-m", "cli.main", "deploy", "tracking-server",
               "--port", str(http_port)]
        url = f"http://127.0.0.1:{http_port}"
        with server_process(cmd, f"{url}/health", tmp_path / "mlflow-server.log",
                            env=env, cwd=REPO, timeout_s=120):
            yield url, bucket


def test_models_trained_against_the_team_server_keep_artifacts_in_s3_and_serve(
        tracking_server, aws):
    url, bucket = tracking_server
    fraud, router = FraudRegistry(url), RouterRegistry(url)
    fraud_v = tiny.register_fraud(fraud)
    router_v = tiny.register_router(router)
    # Loaded back from the server, as serving loads them.
    rows = tiny.fraud_frame(30, seed=5)
    loaded = FraudRegistry(url).load_predictor("champion")
    assert loaded.version == fraud_v
    np.testing.assert_allclose(loaded.scores(rows), tiny.fraud_predictor().scores(rows),
                               atol=1e-6)
    assert loaded.predict(rows.head(3))[0][1] in {"approve", "review", "decline"}
    served = load_champion(url)
    gateway, prob, ranking, _ = served.decide(tiny.ROUTER_ROW, tiny.ELIGIBLE)
    assert served.version == f"gateway-router/{router_v}" and gateway in ranking
    s3 = boto3.client("s3", endpoint_url=aws["SMARTPAY_AWS__ENDPOINT_URL"])
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket) for o in page.get("Contents", [])]
    assert any(k.endswith("/router.vw") for k in keys), keys[:20]
    assert any(k.endswith("/MLmodel") for k in keys) and any(
        k.endswith("model.ubj") for k in keys), keys[:20]
