"""`smartpay evaluate ...`: one shared sub-app that each area adds a command to.

Areas register at import time, e.g. `evaluate_cmds.app.command("router")(fn)`, and
`cli/main.py` mounts this app once. It imports nothing so it stays a neutral meeting point.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Evaluate models and the assistant against labelled data.",
    no_args_is_help=True,
)


@app.callback()
def _group() -> None:
    """Evaluate models and the assistant against labelled data."""
