"""A Bento's backends load the version pinned at build time, not the moving alias."""

from __future__ import annotations

import pytest

from models.router.policy import RouterPolicy
from models.router.registry import RouterRegistry
from serving.backends_pinned import pinned_fraud, pinned_router
from serving.backends_real import ModelUnavailable
from smartpay.settings import reset_settings
from tests.models.router.helpers import small_config


def test_the_router_bento_serves_its_pinned_version_after_the_champion_moved_on(
    data_dir, monkeypatch
):
    uri = f"sqlite:///{data_dir / 'mlflow.db'}"
    registry, cfg = RouterRegistry(uri), small_config()
    pinned = registry.log_and_register(
        RouterPolicy(cfg).checkpoint(), cfg, {}, {"dr": 0.9}
    )
    newer = registry.log_and_register(
        RouterPolicy(cfg).checkpoint(), cfg, {}, {"dr": 0.95}
    )
    registry.promote(newer, True)
    monkeypatch.setenv("SMARTPAY_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SMARTPAY_SERVING__ROUTER_MODEL_VERSION", pinned)
    reset_settings()
    router = pinned_router()
    assert router.version == f"gateway-router/{pinned}" != f"gateway-router/{newer}"
    assert router.policy.names == cfg.gateway_names


def test_a_bento_without_a_pinned_version_refuses_to_start_naming_the_fix(data_dir):
    with pytest.raises(ModelUnavailable, match="smartpay bento build"):
        pinned_fraud()
