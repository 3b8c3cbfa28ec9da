"""`smartpay deploy fraud --target sagemaker`: the package answers SageMaker's container
contract with the champion's scores; the control plane against moto's server."""

from __future__ import annotations

import json
import sys
import tarfile

import boto3
import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from harness.processes import free_port, server_process
from models.deploy import sagemaker as sm
from models.fraud.registry import FraudRegistry
from tests.models import tiny
from tests.models.deploy.conftest import REPO

ROLE = "arn:aws:iam::123456789012:role/smartpay-sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/smartpay-fraud:1"


@pytest.fixture(scope="session")
def champion_data(tmp_path_factory):
    """A data dir whose registry has a tiny fraud champion."""
    data = tmp_path_factory.mktemp("sagemaker") / "data"
    tiny.register_fraud(FraudRegistry(f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"))
    return data


@pytest.fixture
def deploy_env(champion_data, aws, monkeypatch):
    for key, value in {"SMARTPAY_DATA_DIR": str(champion_data),
                       "SMARTPAY_PROFILE": "local", "SMARTPAY_AWS__SAGEMAKER_ROLE_ARN": ROLE,
                       "SMARTPAY_AWS__SAGEMAKER_IMAGE_URI": IMAGE}.items():
        monkeypatch.setenv(key, value)
    return aws


def _champion(data):
    return FraudRegistry(f"sqlite:///{data / 'mlflow' / 'mlflow.db'}").load_predictor()


def test_the_packaged_champion_answers_ping_and_invocations_with_its_scores(
        champion_data, tmp_path):
    champion = _champion(champion_data)
    with tarfile.open(sm.package(champion, tmp_path / "pkg")) as tar:
        tar.extractall(tmp_path / "opt-ml-model", filter="data")
    port = free_port()
    cmd = [sys.executable, "-m", "models.deploy.inference_server", "serve"]
    env = {"SM_MODEL_DIR": str(tmp_path / "opt-ml-model"),
           "SAGEMAKER_BIND_TO_PORT": str(port)}
    rows = tiny.fraud_frame(40, seed=9)
    url = f"http://127.0.0.1:{port}"
    with server_process(cmd, f"{url}/ping", tmp_path / "serve.log", env=env, cwd=REPO):
        assert httpx.get(f"{url}/ping").status_code == 200
        csv = "\n".join(",".join(repr(float(v)) for v in r)
                        for r in rows[tiny.FEATURES].to_numpy(np.float32))
        by_csv = httpx.post(f"{url}/invocations", content=csv,
                            headers={"Content-Type": "text/csv"})
        by_json = httpx.post(f"{url}/invocations", json={
            "instances": rows[tiny.FEATURES].to_dict("records")})
    expected = champion.scores(rows)
    np.testing.assert_allclose([float(s) for s in by_csv.text.split()], expected,
                               atol=1e-6)
    got = by_json.json()["predictions"]
    np.testing.assert_allclose([p["score"] for p in got], expected, atol=1e-6)
    assert [p["decision"] for p in got] == [champion.thresholds.decide(s)
                                            for s in expected]


def test_deploy_creates_model_endpoint_config_endpoint_and_scaling_policy(deploy_env):
    res = CliRunner().invoke(app, ["deploy", "fraud", "--target", "sagemaker",
                                   "--endpoint", "fraud-it"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    endpoint = deploy_env["SMARTPAY_AWS__ENDPOINT_URL"]
    sagemaker = boto3.client("sagemaker", endpoint_url=endpoint)
    model = sagemaker.describe_model(ModelName=f"fraud-detector-v{out['version']}")
    data_url = model["PrimaryContainer"]["ModelDataUrl"]
    assert model["PrimaryContainer"]["Image"] == IMAGE and model["ExecutionRoleArn"] == ROLE
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=f"fraud-detector-v{out['version']}-config")
    assert config["ProductionVariants"][0]["ModelName"] == model["ModelName"]
    assert sagemaker.describe_endpoint(EndpointName="fraud-it")[
        "EndpointConfigName"] == config["EndpointConfigName"]
    policies = boto3.client("application-autoscaling", endpoint_url=endpoint
                            ).describe_scaling_policies(ServiceNamespace="sagemaker")
    mine = [p for p in policies["ScalingPolicies"]
            if p["ResourceId"] == "endpoint/fraud-it/variant/AllTraffic"]
    assert mine and mine[0]["PolicyType"] == "TargetTrackingScaling"
    bucket, key = data_url.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=bucket, Key=key)
    assert body["ContentLength"] > 100


def test_dry_run_prints_the_plan_and_creates_nothing(deploy_env):
    sagemaker = boto3.client("sagemaker",
                             endpoint_url=deploy_env["SMARTPAY_AWS__ENDPOINT_URL"])
    before = sagemaker.list_endpoints()["Endpoints"]
    res = CliRunner().invoke(app, ["deploy", "fraud", "--dry-run", "--endpoint",
                                   "fraud-dry"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert plan["endpoint_name"] == "fraud-dry"
    assert plan["put_scaling_policy"]["PolicyType"] == "TargetTrackingScaling"
    assert sagemaker.list_endpoints()["Endpoints"] == before


def test_deploy_without_a_role_names_the_setting(deploy_env, monkeypatch):
    monkeypatch.delenv("SMARTPAY_AWS__SAGEMAKER_ROLE_ARN")
    res = CliRunner().invoke(app, ["deploy", "fraud", "--dry-run"])
    assert "SMARTPAY_AWS__SAGEMAKER_ROLE_ARN" in str(res.exception or res.output)
