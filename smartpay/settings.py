"""Typed settings with two profiles: `local` (embedded, nothing to start) and `prod`.

The profile comes from SMARTPAY_PROFILE; every field can be overridden by an
environment variable `SMARTPAY_<FIELD>` (upper case) or an ignored `.env` file.
Reading settings has no side effects: no directory is created, no connection opened.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["local", "prod"]

_PROD_DEFAULTS: dict[str, str] = {
    "redis_url": "redis://127.0.0.1:6379/0",
    "postgres_url": "postgresql+psycopg://postgres@127.0.0.1:5432/smartpay",
    "nats_url": "nats://127.0.0.1:4222",
}


class Settings(BaseSettings):
    """Everything configurable about a SmartPay process."""

    model_config = SettingsConfigDict(
        env_prefix="SMARTPAY_", env_file=".env", extra="ignore"
    )

    profile: Profile = "local"
    data_dir: Path = Field(default=Path("data"), description="Local files root.")
    seed: int = 42

    # Servers used by the prod profile (ignored by `local`).
    redis_url: str = ""
    postgres_url: str = ""
    nats_url: str = ""
    mlflow_tracking_uri: str = ""

    # Secrets: only from the environment or .env, never committed.
    jwt_secret: SecretStr = SecretStr("local-dev-secret-change-me")
    stripe_api_key: SecretStr = SecretStr("sk_test_local")
    openai_api_key: SecretStr | None = None

    def model_post_init(self, __context: object) -> None:
        """Fill prod server addresses that were not set explicitly."""
        if self.profile == "prod":
            for name, value in _PROD_DEFAULTS.items():
                if not getattr(self, name):
                    object.__setattr__(self, name, value)

    @property
    def data_path(self) -> Path:
        """Absolute data directory (not created here)."""
        return self.data_dir.expanduser().resolve()

    def path(self, *parts: str) -> Path:
        """A path under the data directory."""
        return self.data_path.joinpath(*parts)

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: a server in prod if set, else SQLite in the data dir."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.path('mlflow', 'mlflow.db')}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings, e.g. after a test changes the environment."""
    get_settings.cache_clear()
