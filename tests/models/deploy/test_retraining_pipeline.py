"""The retraining pipeline built with the sagemaker SDK v3, upserted and listed
against moto's server."""

from __future__ import annotations

import json

import boto3
from typer.testing import CliRunner

from cli.main import app
from models.deploy import retraining
from smartpay.settings import Settings

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def _role(name: str = "smartpay-retraining") -> str:
    """An execution role SageMaker may assume (the SDK checks it through IAM)."""
    iam = boto3.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = iam.create_role(RoleName=name,
                          AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="retraining", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    return arn


def test_the_pipeline_runs_features_train_evaluate_then_a_gate_before_register(
        aws, monkeypatch):
    monkeypatch.setenv("SMARTPAY_AWS__SAGEMAKER_ROLE_ARN", "arn:aws:iam::1:role/r")
    monkeypatch.setenv("SMARTPAY_AWS__SAGEMAKER_IMAGE_URI", "1.dkr.ecr/smartpay:1")
    settings = Settings()
    definition = json.loads(retraining.pipeline(
        settings.aws, retraining.session(settings.aws)).definition())
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert list(steps) == ["features", "train", "evaluate", "gate"]
    gate = steps["gate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["register"]
    assert [s["Type"] for s in gate["ElseSteps"]] == ["Fail"]
    assert steps["train"]["DependsOn"] == ["features"]
    # Every step runs a command the CLI has, with options it accepts.
    from click.testing import CliRunner as ClickRunner
    from typer.main import get_command

    from cli.main import app

    commands = {s["Name"]: s["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
                for s in [*definition["Steps"], *gate["IfSteps"]] if s["Type"] == "Processing"}
    assert commands["evaluate"][1:4] == ["promote", "fraud", "--check"]
    cli = get_command(app)
    for name, entry in commands.items():
        assert entry[0] == "smartpay"
        ctx = cli.make_context("smartpay", list(entry[1:]), resilient_parsing=True)
        sub = ctx.command
        args = list(entry[1:])
        while args and hasattr(sub, "commands") and args[0] in sub.commands:
            sub = sub.commands[args.pop(0)]
        sub.make_context(name, args)  # raises on an unknown option


def test_upserting_the_pipeline_twice_leaves_one_listed_through_boto3(aws, monkeypatch):
    monkeypatch.setenv("SMARTPAY_AWS__SAGEMAKER_ROLE_ARN", _role())
    monkeypatch.setenv("SMARTPAY_AWS__SAGEMAKER_IMAGE_URI", "1.dkr.ecr/smartpay:1")
    for _ in range(2):
        res = CliRunner().invoke(app, ["deploy", "retraining-pipeline"])
        assert res.exit_code == 0, res.output
    arn = json.loads(res.output.strip().splitlines()[-1])["pipeline_arn"]
    listed = boto3.client("sagemaker").list_pipelines()["PipelineSummaries"]
    assert [p["PipelineArn"] for p in listed
            if p["PipelineName"] == retraining.PIPELINE_NAME] == [arn]
