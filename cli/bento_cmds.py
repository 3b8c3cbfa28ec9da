"""`smartpay bento build`: one Bento per service, each pinned to registered model versions."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from cli._ui import console, spinner
from smartpay.errors import SmartPayError
from smartpay.settings import get_settings

app = typer.Typer(
    help="Bentos of the services, pinned to model versions.", no_args_is_help=True
)

ROOT = (
    Path(__file__).resolve().parents[1]
)  # the checkout or site-packages: the build context


class BentoBuildError(SmartPayError):
    """A Bento cannot be built as asked (a model without the alias, no lock file)."""


def resolve_pins(
    alias: str, fraud_version: str | None, router_version: str | None, settings=None
) -> dict[str, str]:
    """model -> version: the ones given, else the version `<model>@<alias>` points at now."""
    from models.fraud.registry import FraudRegistry
    from models.router.registry import RouterRegistry
    from serving.bentos import FRAUD_MODEL, ROUTER_MODEL

    settings = settings or get_settings()
    pins = {FRAUD_MODEL: fraud_version, ROUTER_MODEL: router_version}
    for model, registry in (
        (FRAUD_MODEL, FraudRegistry),
        (ROUTER_MODEL, RouterRegistry),
    ):
        if not pins[model]:
            pins[model] = (
                registry.from_settings(settings).version_for_alias(alias) or ""
            )
    return {m: v for m, v in pins.items() if v}


def write_bentofiles(
    names: list[str], pins: dict[str, str], lock: Path, out: Path
) -> dict[str, Path]:
    """Write `<out>/<name>/bentofile.yaml` per Bento."""
    from serving.bentos import SERVICES, bentofile, lock_packages

    if not lock.is_file():
        raise BentoBuildError(
            f"--requirements {lock}: no such file (the pinned lock of "
            "the checkout, requirements.lock, is expected)"
        )
    out.mkdir(parents=True, exist_ok=True)
    packages = lock_packages(lock.read_text())
    paths = {}
    for name in names:
        if name not in SERVICES:
            raise BentoBuildError(
                f"--service {name}: expected one of {', '.join(SERVICES)}"
            )
        try:
            spec = bentofile(name, pins, packages)
        except ValueError as exc:
            raise BentoBuildError(
                f"{exc}; register and promote it, or pass "
                "--fraud-version/--router-version"
            ) from None
        (out / name).mkdir(exist_ok=True)
        paths[name] = out / name / "bentofile.yaml"
        paths[name].write_text(yaml.safe_dump(spec, sort_keys=False))
    return paths


@app.command("build")
def build(
    service: list[str] = typer.Option(None, help="Bento(s) to build (default: all)."),
    alias: str = typer.Option("champion", help="Registry alias whose versions to pin."),
    fraud_version: str = typer.Option(
        None, help="Pin this fraud-detector version instead."
    ),
    router_version: str = typer.Option(
        None, help="Pin this gateway-router version instead."
    ),
    requirements: Path = typer.Option(
        ROOT / "requirements.lock", help="Pinned lock to install in the Bento."
    ),
    out: Path = typer.Option(
        None, help="Where the bentofiles go (default <data>/bentos)."
    ),
    containerize: bool = typer.Option(
        False,
        help="Also `bentoml containerize` each one "
        "as smartpay/<name-with-dashes>:latest (needs Docker).",
    ),
) -> None:
    """Resolve the champion versions, write one pinned bentofile per service, build each."""
    import bentoml

    from serving.bentos import SERVICES

    names = service or list(SERVICES)
    pins = resolve_pins(alias, fraud_version, router_version)
    paths = write_bentofiles(
        names, pins, requirements, out or get_settings().path("bentos")
    )
    for name, path in paths.items():
        with spinner(f"bentoml build {name}"):
            bento = bentoml.bentos.build_bentofile(str(path), build_ctx=str(ROOT))
        console.print(
            f"[green]built[/] {bento.tag} pins "
            f"{', '.join(f'{k}={v}' for k, v in bento.info.labels.items() if k != 'owner')}"
        )
        if containerize:
            bentoml.container.build(
                str(bento.tag), image_tag=(f"smartpay/{name.replace('_', '-')}:latest",)
            )
