"""The production backends: `fraud-detector@<alias>` and `gateway-router@<alias>`, the
alias the environment serves (`Settings.release.alias`: champion in dev).

Thin: the model packages own loading, features (Feast `fraud_model_v1`) and the bandit;
this module only names their loaders and the probes that drive hot reload.
"""

from __future__ import annotations

from smartpay.errors import SmartPayError
from smartpay.locks import SCHEMA_MIGRATIONS
from smartpay.settings import get_settings

# Every function here opens an MLflow client of its own (no process-wide MLflow state),
# whose first use of a new SQLite store runs Alembic migrations: they hold
# SCHEMA_MIGRATIONS so a reload check never overlaps the ledger's own migration (see
# smartpay.locks).


class ModelUnavailable(SmartPayError):
    """A champion the service needs is not in the registry."""


def champion_fraud():
    """`models.fraud.serve.load_champion()`: predictor + Feast online features."""
    from models.fraud.registry import RegistryError
    from models.fraud.serve import load_champion

    settings = get_settings()
    try:
        with SCHEMA_MIGRATIONS:
            return load_champion(settings.release.alias, settings)
    except RegistryError as exc:
        raise ModelUnavailable(str(exc)) from None


def _fraud_champion_version() -> str | None:
    from models.fraud.serve import load_champion

    settings = get_settings()
    with SCHEMA_MIGRATIONS:
        return load_champion.probe(settings.release.alias, settings)


champion_fraud.probe = _fraud_champion_version  # type: ignore[attr-defined]


def champion_router():
    """`models.router.serve.load_champion()`: the champion VW policy or a fresh one."""
    from models.router.serve import load_champion

    with SCHEMA_MIGRATIONS:
        return load_champion(alias=get_settings().release.alias)


def _router_champion_version() -> str:
    from models.router.registry import MODEL_NAME, RouterRegistry

    settings = get_settings()
    with SCHEMA_MIGRATIONS:
        version = RouterRegistry.from_settings(settings).version_for_alias(
            settings.release.alias)
    return f"{MODEL_NAME}/{version}" if version else "fresh-vw"


champion_router.probe = _router_champion_version  # type: ignore[attr-defined]
