"""`smartpay deploy ...`: the team's MLflow tracking server and the fraud detector on
SageMaker."""

from __future__ import annotations

import json
import os

import typer

from smartpay.settings import get_settings

app = typer.Typer(help="Run or deploy models outside this process.",
                  no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Run or deploy models outside this process."""


@app.command("tracking-server")
def tracking_server(
    port: int = typer.Option(None, help="Port (default: SMARTPAY_TRACKING__PORT)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the command only."),
) -> None:
    """`mlflow server` on PostgreSQL with S3 artifacts (creates the bucket if missing);
    this process becomes the server."""
    from models.deploy import tracking_server as ts

    settings = get_settings()
    if port is not None:
        settings.tracking.port = port
    cmd, env = ts.command(settings), ts.environment(settings)
    if dry_run:
        print(json.dumps({"command": cmd, "env": env}))
        return
    ts.ensure_bucket(settings)
    os.execve(cmd[0], cmd, {**os.environ, **env})


@app.command("fraud")
def deploy_fraud(
    target: str = typer.Option("sagemaker", help="Where to deploy (sagemaker)."),
    alias: str = typer.Option(None, help="Registry alias (default: the env's)."),
    endpoint: str = typer.Option("fraud-detector", help="SageMaker endpoint name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be "
                                 "created; create nothing."),
) -> None:
    """Package fraud-detector@<alias> and run it on a SageMaker endpoint with
    autoscaling (model, endpoint config, endpoint, scaling policy)."""
    import tempfile
    from pathlib import Path

    from models.deploy import sagemaker as sm
    from models.fraud.registry import connect

    if target != "sagemaker":
        typer.secho(f"error: --target {target!r}: only 'sagemaker' is supported",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = get_settings()
    reg = connect(settings)
    ref = alias or settings.release.alias
    version = reg.version_for_alias(ref)
    if version is None:
        typer.secho(f"error: no fraud-detector@{ref} to deploy", fg=typer.colors.RED,
                    err=True)
        raise typer.Exit(2)
    plan = sm.plan(version, settings.aws, endpoint)
    if dry_run:
        print(plan.as_json())
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = sm.package(reg.load_predictor(version), Path(tmp))
        arns = sm.apply(plan, archive, sm.clients(settings.aws))
    print(json.dumps({"version": version, **arns}))


@app.command("retraining-pipeline")
def retraining_pipeline(
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the pipeline "
                                 "definition; create nothing."),
) -> None:
    """Create or update the SageMaker Pipeline that retrains the fraud detector
    (features -> train -> evaluate -> gate -> register)."""
    from models.deploy import retraining

    aws = get_settings().aws
    if dry_run:
        print(retraining.pipeline(aws, retraining.session(aws)).definition())
        return
    print(json.dumps({"pipeline_arn": retraining.upsert(aws)}))
