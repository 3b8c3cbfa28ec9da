"""Backends of a Bento: exactly the model versions pinned at build time.

No probe, so no hot reload: a pinned service serves one version for its whole life, and
a new champion reaches it by a new Bento (`smartpay bento build`) and a rollout.
"""

from __future__ import annotations

from serving.backends_real import ModelUnavailable
from smartpay.locks import SCHEMA_MIGRATIONS
from smartpay.settings import get_settings


def _pinned(version: str, model: str) -> str:
    if not version.isdigit():
        raise ModelUnavailable(
            f"{model}: pinned version {version!r} is not a version "
            "number; build the Bento with `smartpay bento build`"
        )
    return version


def pinned_fraud():
    """`fraud-detector` version `serving.fraud_model_version` with Feast features."""
    from models.fraud.registry import RegistryError
    from models.fraud.serve import load_champion

    settings = get_settings()
    version = _pinned(settings.serving.fraud_model_version, "fraud-detector")
    try:
        with SCHEMA_MIGRATIONS:
            return load_champion(version, settings)  # a version number is a ref too
    except RegistryError as exc:
        raise ModelUnavailable(str(exc)) from None


def pinned_router():
    """`gateway-router` version `serving.router_model_version`, with the online
    checkpoints of that version (restored at start, saved by the router service)."""
    from models.router.registry import MODEL_NAME, RouterRegistry
    from models.router.serve import load_version

    settings = get_settings()
    version = _pinned(settings.serving.router_model_version, MODEL_NAME)
    with SCHEMA_MIGRATIONS:
        return load_version(RouterRegistry.from_settings(settings), version)
