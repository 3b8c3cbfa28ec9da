"""The committed OpenAPI document (`docs/openapi.yaml`) is generated from the app, and a
test fails when the two drift apart. Regenerate with `smartpay openapi`."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"


def openapi_yaml() -> str:
    """The payment API's OpenAPI 3 document as YAML (stable key order)."""
    from serving.app import create_app

    spec = create_app().openapi()
    return yaml.safe_dump(spec, sort_keys=True, allow_unicode=True, width=88)


def write_openapi(path: Path = DEFAULT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_yaml())
    return path
