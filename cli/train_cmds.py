"""`smartpay train ...`: one shared sub-app that each model adds a command to.

Models register at import time, e.g. `train_cmds.app.command("fraud")(fn)`, and
`cli/main.py` mounts this app once. It imports nothing so it stays a neutral meeting point.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Train a model and compare it with its baselines.",
                  no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Train a model and compare it with its baselines."""
