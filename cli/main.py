"""Entry point of `smartpay`. Each stage's module registers its own commands.

Heavy libraries are imported inside the commands, never here, so `smartpay --help`
stays fast.
"""

from __future__ import annotations

import sys

import typer

from cli import data_cmds, demo_cmds, features_cmds, serve_cmds
from cli import assistant_cmds, evaluate_cmds
from cli import fraud_cmds, promote_cmds, score_cmds, train_cmds
from cli import gateways_cmds
from cli import decisions_cmds, events_cmds, reconcile_cmds
from cli import deploy_cmds
from cli import router_cmds  # noqa: F401  (adds `evaluate router` and `train router`)
from cli import router_retrain_cmds  # noqa: F401  (adds `retrain router`)
from cli import bento_cmds
from smartpay.errors import SmartPayError

app = typer.Typer(
    name="smartpay",
    help="SmartPay: fraud scoring, gateway routing, payments and rewards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_cmds.register(app)
demo_cmds.register(app)
serve_cmds.register(app)
app.add_typer(features_cmds.app, name="features")
assistant_cmds.register(app)
app.add_typer(evaluate_cmds.app, name="evaluate")
fraud_cmds.register(app)
app.add_typer(train_cmds.app, name="train")
app.add_typer(score_cmds.app, name="score")
app.add_typer(promote_cmds.app, name="promote")
app.add_typer(promote_cmds.retrain_app, name="retrain")
gateways_cmds.register(app)
events_cmds.register(app)
reconcile_cmds.register(app)
app.add_typer(decisions_cmds.app, name="decisions")
app.add_typer(deploy_cmds.app, name="deploy")
app.add_typer(bento_cmds.app, name="bento")


def run() -> None:
    """Console-script entry: domain errors become one line on stderr and exit 2."""
    try:
        app()
    except SmartPayError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
