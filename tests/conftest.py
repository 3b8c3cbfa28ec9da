"""Shared fixtures: an isolated data dir per test and access to the prod-profile servers.

Prod-profile tests ask for a server with `prod_server("redis")`. When the server is not
reachable they are skipped with the reason, except when SMARTPAY_REQUIRE_PROD=1 (set by
.ci/run), where the missing server fails the test: CI always proves the prod profile.
"""

from __future__ import annotations

import os
import socket

import pytest

from smartpay.settings import reset_settings

PROD_SERVERS = {
    "redis": ("127.0.0.1", 6379),
    "postgres": ("127.0.0.1", 5432),
    "nats": ("127.0.0.1", 4222),
    "rabbitmq": ("127.0.0.1", 5672),
    "mariadb": ("127.0.0.1", 3306),
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def prod_server():
    """Return a checker: prod_server('redis') -> (host, port), or skip/fail if down."""

    def check(name: str) -> tuple[str, int]:
        host, port = PROD_SERVERS[name]
        if _reachable(host, port):
            return host, port
        reason = f"{name} is not reachable on {host}:{port} (prod-profile test)"
        if os.environ.get("SMARTPAY_REQUIRE_PROD") == "1":
            pytest.fail(reason + "; SMARTPAY_REQUIRE_PROD=1 forbids skipping")
        pytest.skip(reason)

    return check


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Point SMARTPAY_DATA_DIR at a fresh temporary folder for this test."""
    monkeypatch.setenv("SMARTPAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTPAY_PROFILE", "local")
    reset_settings()
    yield tmp_path / "data"
    reset_settings()
