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


def promote_between_envs(registry, to: str, approved_by: str | None,
                         reason: str | None, json_out: bool) -> None:
    """`smartpay promote <model> --to <env>`: move the version by alias, or exit 2 with
    one line saying why not (nothing changed)."""
    import json

    from models.promotion import Approval, PromotionRefused, promote_to
    from smartpay.settings import SettingsError, release_of

    approval = Approval(approved_by, reason or "") if approved_by else None
    try:
        release = release_of(to)
        version = promote_to(registry, to, release, approval)
    except (PromotionRefused, SettingsError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if json_out:
        print(json.dumps({"model": registry.model_name, "version": version, "env": to,
                          "alias": release.alias}))
        return
    typer.echo(f"{registry.model_name} v{version} -> @{release.alias} ({to}, from "
               f"@{release.promote_from})")
