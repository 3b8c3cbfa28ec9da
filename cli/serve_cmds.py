"""`smartpay serve` and `smartpay token`: run the payment API, get a local JWT."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import typer

from cli._ui import console
from smartpay.errors import InputError


def register(app: typer.Typer) -> None:
    """Add the serving commands to the root app."""
    app.command("serve")(serve)
    app.command("token")(token)
    app.command("openapi")(openapi)


def serve(
    port: int = typer.Option(3000, help="Port of the payment API on 127.0.0.1."),
) -> None:
    """Start the payment API, the model services and the gateway stand-ins."""
    from serving.launcher import running_service

    if not 0 < port < 65536:
        raise InputError("port", port, "a TCP port between 1 and 65535")
    # SIGTERM (systemd, docker stop, kill) stops as cleanly as Ctrl+C.
    signal.signal(signal.SIGTERM, _interrupt)
    with running_service(port) as url:
        console.print(f"[green]SmartPay API[/] on {url}  (docs {url}/docs, "
                      f"metrics {url}/metrics, events ws://127.0.0.1:{port}/ws)")
        console.print("get a token: smartpay token --merchant m1 --scope payments:write "
                      "--scope payments:read;  Ctrl+C stops everything")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def token(
    merchant: str = typer.Option(..., help="Merchant the token acts for."),
    scope: list[str] = typer.Option(["payments:write", "payments:read"],
                                    help="payments:write, payments:read or admin."),
    ttl: int = typer.Option(3600, help="Seconds until the token expires."),
) -> None:
    """Print a JWT valid for the local profile (HS256, the local secret)."""
    from serving.config import get_serving_config
    from serving.security import issue_token
    from smartpay.settings import get_settings

    if ttl <= 0:
        raise InputError("ttl", ttl, "a positive number of seconds")
    cfg = get_serving_config()
    print(issue_token(get_settings().jwt_secret.get_secret_value(), merchant, scope, ttl,
                      cfg.jwt_issuer, cfg.jwt_audience))


def openapi(out: Path = typer.Option(None, help="Where to write (default docs/openapi.yaml).")) -> None:
    """Regenerate the committed OpenAPI document from the app."""
    from serving.openapi import DEFAULT_PATH, write_openapi

    console.print(f"wrote {write_openapi(out or DEFAULT_PATH)}")
