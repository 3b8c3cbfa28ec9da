"""Open the Feast store for the active profile and list the repository's definitions.

One `envs/<environment>/feature_store.yaml` per environment is committed (the stock
Feast CLI reads the same files); the folders and server addresses in it come from
settings here and from the environment for the CLI, so one definition set serves every
data dir.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import yaml

from smartpay.settings import Settings, get_settings

if TYPE_CHECKING:
    from feast import FeatureStore

HERE = Path(__file__).parent


def store_dir(settings: Settings) -> Path:
    """Where the store's registry, online DB and offline tables live."""
    return settings.path("feast")


def tables_dir(settings: Settings) -> Path:
    """Where `smartpay features build` writes the offline tables."""
    return store_dir(settings) / "tables"


def _redis_connection(url: str) -> str:
    """Feast wants 'host:port,db=N' rather than a redis:// URL."""
    u = urlparse(url)
    db = (u.path or "/0").lstrip("/") or "0"
    return f"{u.hostname}:{u.port or 6379},db={db}"


def yaml_path(environment: str) -> Path:
    """The committed `feature_store.yaml` of one environment (local, staging, prod)."""
    return HERE / "envs" / environment / "feature_store.yaml"


def repo_config(settings: Settings):
    """The RepoConfig of the active profile."""
    from feast.repo_config import RepoConfig

    raw = yaml.safe_load(Template(yaml_path(settings.profile).read_text()).safe_substitute(
        FEAST_DATA_DIR=str(store_dir(settings)),
        FEAST_REGISTRY_URL=settings.postgres_url,
        FEAST_REDIS=_redis_connection(settings.redis_url) if settings.redis_url else "",
    ))
    config = RepoConfig(**raw)
    config.repo_path = store_dir(settings)
    return config


def open_store(settings: Settings | None = None) -> "FeatureStore":
    """A FeatureStore for `settings` (default: the process settings)."""
    from feast import FeatureStore

    settings = settings or get_settings()
    store_dir(settings).mkdir(parents=True, exist_ok=True)
    if settings.profile == "prod":
        from smartpay.db import ensure_postgres_database

        ensure_postgres_database(settings.postgres_url)
    return FeatureStore(config=repo_config(settings))


def definitions(settings: Settings | None = None) -> list:
    """Every Feast object of the repository, for `apply`.

    File sources are declared relative to the store folder; they are made absolute
    here because Feast's materialization reads the path as given.
    """
    import features.entities as e
    import features.services as s
    import features.sources as src
    from features.on_demand import transaction_context
    from features.views.card import card_profile
    from features.views.customer import customer_spending
    from features.views.terminal import terminal_risk
    import features.sources_gateway as gw
    from features.views.gateway import gateway_stats

    objects = [
        e.customer, e.terminal, e.card,
        src.customer_spending_source, src.terminal_risk_source, src.card_profile_source,
        customer_spending, terminal_risk, card_profile, transaction_context,
        s.fraud_model_v1, s.routing_v1,
        gw.gateway_segment, gw.gateway_stats_source, gateway_stats,
    ]
    _absolutize(objects, store_dir(settings or get_settings()))
    return objects


def _absolutize(objects: list, root: Path) -> None:
    """Point every relative FileSource (also those inside views) under `root`."""
    from feast import FeatureView, FileSource

    sources = [o for o in objects if isinstance(o, FileSource)]
    sources += [o.batch_source for o in objects if isinstance(o, FeatureView)]
    for source in sources:
        if isinstance(source, FileSource):
            # Remember the declared relative path: the objects are module-level and
            # may be re-rooted for another data dir later in the same process.
            if not hasattr(source, "_declared_uri"):
                source._declared_uri = source.file_options.uri
            rel = Path(source._declared_uri)
            source.file_options.uri = str(rel if rel.is_absolute() else root / rel)
