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
    supervised: bool = typer.Option(False, "--supervised", hidden=True,
                                    help="Set by `serve` for its guarded child."),
) -> None:
    """Start the payment API and the model services (and, in the local profile, the
    gateway stand-ins they talk to). Everything runs under a guardian process, so no
    exit of this command, `kill -9` included, leaves a server or stand-in behind."""
    import sys

    from serving.launcher import PortInUse, port_taken, run_supervised
    from smartpay.settings import get_settings

    if not 0 < port < 65536:
        raise InputError("port", port, "a TCP port between 1 and 65535")
    get_settings().check_production()  # prod: one line naming the setting, exit 2
    if port_taken(port):
        raise PortInUse(port)
    if not supervised:
        cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port),
               "--supervised"]
        raise typer.Exit(run_supervised(cmd))
    _serve(port)


def _serve(port: int) -> None:
    """Stand-ins (local profile), then the API; Ctrl+C or SIGTERM stops both."""
    from contextlib import ExitStack

    from serving.launcher import running_service
    from smartpay.settings import get_settings

    settings = get_settings()
    # SIGTERM (systemd, docker stop, kill, the guardian) stops as cleanly as Ctrl+C.
    signal.signal(signal.SIGTERM, _interrupt)
    with ExitStack() as stack:
        env: dict[str, str] = {}
        if settings.profile == "local":
            from harness.standins import running_standins

            env = stack.enter_context(running_standins(settings.data_path))
        url = stack.enter_context(running_service(port, extra_env=env))
        console.print(f"[green]SmartPay API[/] on {url}  (docs {url}/docs, "
                      f"metrics {url}/metrics, events ws://127.0.0.1:{port}/ws)")
        console.print("get a token: smartpay token --merchant m1 --scope payments:write "
                      "--scope payments:read;  Ctrl+C stops everything")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping")
            for sig in (signal.SIGINT, signal.SIGTERM):  # let the shutdown finish
                signal.signal(sig, signal.SIG_IGN)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def token(
    merchant: str = typer.Option(..., help="Merchant the token acts for."),
    scope: list[str] = typer.Option(["payments:write", "payments:read"],
                                    help="payments:write, payments:read or admin."),
    ttl: int = typer.Option(3600, help="Seconds until the token expires."),
) -> None:
    """Print a JWT valid for the local profile (HS256, the local secret)."""
    from serving.security import issue_token
    from smartpay.settings import get_settings

    if ttl <= 0:
        raise InputError("ttl", ttl, "a positive number of seconds")
    settings = get_settings()
    cfg = settings.serving
    print(issue_token(settings.jwt_secret.get_secret_value(), merchant, scope, ttl,
                      cfg.jwt_issuer, cfg.jwt_audience))


def openapi(out: Path = typer.Option(None, help="Where to write (default docs/openapi.yaml).")) -> None:
    """Regenerate the committed OpenAPI document from the app."""
    from serving.openapi import DEFAULT_PATH, write_openapi

    console.print(f"wrote {write_openapi(out or DEFAULT_PATH)}")
