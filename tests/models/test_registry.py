"""A registry object talks to its own tracking store only, whatever MLflow's
process-wide URIs say, and stores models the way `mlflow.<flavor>.log_model` does."""

from __future__ import annotations

import mlflow
import pytest

from models.router.policy import RouterPolicy
from models.router.registry import RouterRegistry
from tests.models.router.helpers import small_config


@pytest.fixture
def decoy(tmp_path, monkeypatch):
    """MLflow's process-wide URIs point at a store nobody may touch (its folder does
    not exist, so any use of it fails or leaves a file there)."""
    decoy = tmp_path / "decoy" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{decoy}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{decoy}")
    return decoy


@pytest.fixture
def store(tmp_path):
    return f"sqlite:///{tmp_path / 'own' / 'mlflow.db'}"


def test_logging_registering_and_loading_never_use_the_process_wide_store(decoy, store):
    reg = RouterRegistry(store)
    cfg = small_config()
    version = reg.log_and_register(RouterPolicy(cfg).checkpoint(), cfg, {"cb_type": "mtr"},
                                   {"dr": 0.93})
    reg.promote(version, True)
    assert reg.version_for_alias("champion") == version
    assert reg.load_policy("champion").names == cfg.gateway_names
    assert reg.mlmodel(version).flavors.keys() >= {"python_function"}
    assert not decoy.parent.exists()
    assert mlflow.get_tracking_uri() == f"sqlite:///{decoy}"


def test_a_registered_version_looks_like_one_logged_with_log_model(store):
    reg = RouterRegistry(store)
    cfg = small_config()
    version = reg.log_and_register(RouterPolicy(cfg).checkpoint(), cfg, {"cb_type": "mtr"},
                                   {"dr": 0.93})
    mv = reg.client.get_model_version(reg.model_name, version)
    run = reg.client.get_run(mv.run_id)
    assert run.info.status == "FINISHED" and run.info.experiment_id == reg.experiment_id()
    assert run.data.params == {"cb_type": "mtr"} and run.data.metrics == {"dr": 0.93}
    assert "mlflow.user" in run.data.tags and run.data.tags["run_role"] == "router-train"
    [output] = run.outputs.model_outputs
    model = reg.client.get_logged_model(output.model_id)
    assert model.status.to_int() == model.status.READY.to_int()
    assert model.params == {"cb_type": "mtr"} and model.source_run_id == mv.run_id
    assert {m.key for m in model.metrics} == {"dr"}
    assert f'"version": "{version}"' in model.tags["mlflow.modelVersions"]
    assert reg.mlmodel(version).model_id == model.model_id


def test_a_failed_run_is_marked_failed_and_registers_nothing(store):
    reg = RouterRegistry(store)
    with pytest.raises(RuntimeError), reg.run("broken") as run_id:
        raise RuntimeError("training crashed")
    assert reg.client.get_run(run_id).info.status == "FAILED"
    assert reg.version_for_alias("champion") is None


def test_a_local_store_keeps_its_artifacts_beside_the_database(tmp_path, store):
    reg = RouterRegistry(store)
    location = reg.client.get_experiment(reg.experiment_id()).artifact_location
    assert location == (tmp_path / "own" / "artifacts").as_uri()
