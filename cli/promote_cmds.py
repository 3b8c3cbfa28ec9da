"""`smartpay promote ...` and `smartpay retrain ...`: shared sub-apps models add to.

Models register at import time, e.g. `promote_cmds.app.command("fraud")(fn)`, and
`cli/main.py` mounts both apps once. It imports nothing so it stays a neutral meeting point.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Promote a challenger to champion if it passes the gate.",
                  no_args_is_help=True)
retrain_app = typer.Typer(help="Retrain a model on the newest data and gate it.",
                          no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Promote a challenger to champion if it passes the gate."""


@retrain_app.callback()
def _retrain_group() -> None:
    """Retrain a model on the newest data and gate it."""
