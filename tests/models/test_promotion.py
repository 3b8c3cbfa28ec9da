"""dev -> staging -> prod by alias, for both models, through `smartpay promote`."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.fraud.registry import FraudRegistry
from models.router.registry import RouterRegistry
from smartpay.settings import Settings
from tests.models import tiny

REGISTRIES = {"fraud": FraudRegistry, "router": RouterRegistry}


@pytest.fixture(scope="session")
def dev_registry(tmp_path_factory):
    """A data dir whose MLflow store has a fraud and a router champion (built once)."""
    data = tmp_path_factory.mktemp("promotion") / "data"
    uri = f"sqlite:///{data / 'mlflow' / 'mlflow.db'}"
    tiny.register_fraud(FraudRegistry(uri))
    tiny.register_router(RouterRegistry(uri))
    return data


@pytest.fixture
def registry_dir(dev_registry, tmp_path, monkeypatch):
    """A private copy of the dev store, the settings pointed at it."""
    data = tmp_path / "data"
    shutil.copytree(dev_registry / "mlflow", data / "mlflow")
    monkeypatch.setenv("SMARTPAY_DATA_DIR", str(data))
    monkeypatch.setenv("SMARTPAY_PROFILE", "local")
    return data


def _registry(model: str):
    return REGISTRIES[model].from_settings(Settings())


def _promote(model: str, *args: str):
    return CliRunner().invoke(app, ["promote", model, *args])


def test_environment_files_chain_dev_to_staging_to_prod():
    from smartpay.settings import release_of

    chain = {env: release_of(env) for env in ("dev", "staging", "prod")}
    assert chain["staging"].promote_from == chain["dev"].alias == "champion"
    assert chain["prod"].promote_from == chain["staging"].alias
    assert chain["prod"].approval_required and not chain["staging"].approval_required


def test_smartpay_env_picks_the_alias_serving_loads(monkeypatch):
    monkeypatch.setenv("SMARTPAY_ENV", "staging")
    monkeypatch.setenv("SMARTPAY_PROFILE", "local")
    assert Settings().release.alias == "staging"
    monkeypatch.setenv("SMARTPAY_ENV", "prod")
    assert Settings().release.alias == "prod"


@pytest.mark.parametrize("model", ["fraud", "router"])
def test_a_champion_moves_to_staging_then_to_prod_with_the_approval_on_the_version(
        registry_dir, model):
    reg = _registry(model)
    champion = reg.version_for_alias("champion")
    assert _promote(model, "--to", "staging").exit_code == 0
    assert reg.version_for_alias("staging") == champion
    res = _promote(model, "--to", "prod", "--approved-by", "ana@risk",
                   "--reason", "CAB-42 shadow week passed")
    assert res.exit_code == 0, res.output
    assert reg.version_for_alias("prod") == champion
    tags = reg.client.get_model_version(reg.model_name, champion).tags
    assert tags["approval.prod.by"] == "ana@risk"
    assert tags["approval.prod.reason"] == "CAB-42 shadow week passed"
    assert tags["approval.prod.at"].endswith("+00:00")
    assert tags["promotion.staging.from"] == "@champion"


@pytest.mark.parametrize("model", ["fraud", "router"])
def test_a_prod_promotion_without_approval_is_refused_in_one_line_and_changes_nothing(
        registry_dir, model):
    reg = _registry(model)
    assert _promote(model, "--to", "staging").exit_code == 0
    staged = reg.version_for_alias("staging")
    before = dict(reg.client.get_model_version(reg.model_name, staged).tags)
    for args in ([], ["--approved-by", "ana@risk"]):  # a reason is part of approval
        res = _promote(model, "--to", "prod", *args)
        assert res.exit_code == 2
        assert res.output.strip().count("\n") == 0
        assert "needs an approval" in res.output and "--approved-by" in res.output
    assert reg.version_for_alias("prod") is None
    assert dict(reg.client.get_model_version(reg.model_name, staged).tags) == before


def test_prod_takes_the_staged_version_not_a_newer_champion(registry_dir):
    reg = _registry("fraud")
    staged = reg.version_for_alias("champion")
    assert _promote("fraud", "--to", "staging").exit_code == 0
    newer = tiny.register_fraud(reg, seed=1)  # dev's gate moved on meanwhile
    _promote("fraud", "--to", "prod", "--approved-by", "ana", "--reason", "ok")
    assert reg.version_for_alias("prod") == staged != newer


def test_an_unknown_environment_is_refused_naming_the_known_ones(registry_dir):
    res = _promote("router", "--to", "qa")
    assert res.exit_code == 2 and "dev, prod, staging" in res.output


def test_a_prod_promotion_with_nothing_staged_is_refused(registry_dir):
    res = _promote("router", "--to", "prod", "--approved-by", "ana", "--reason", "ok")
    assert res.exit_code == 2 and "no gateway-router@staging" in res.output
