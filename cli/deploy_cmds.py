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
