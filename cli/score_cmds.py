"""`smartpay score ...`: one shared sub-app that each model adds a batch-scoring command to.

Like `train_cmds`, it imports nothing so it stays a neutral meeting point.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Score a table with a registered model (batch).",
                  no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Score a table with a registered model (batch)."""
