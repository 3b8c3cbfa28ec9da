"""One tiny simulated world with Feast features, shared by the fraud pipeline tests.

Building the store and training once per session keeps the area's tests fast; every
test that changes the registry gets its own copy of the data dir.
"""

from __future__ import annotations

import shutil

import pytest

from models.fraud.protocol import Windows
from models.fraud.train import TrainConfig
from smartpay.settings import reset_settings, get_settings

TINY_WINDOWS = Windows(n_folds=2)
TINY_CONFIG = TrainConfig(n_trials=3, n_jobs=1)


def _use(mp: pytest.MonkeyPatch, data) -> None:
    mp.setenv("SMARTPAY_DATA_DIR", str(data))
    mp.setenv("SMARTPAY_PROFILE", "local")
    reset_settings()


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """Data dir with raw transactions, built+applied Feast repo and a trained champion."""
    from pipelines.features import pipeline as features
    from pipelines.fraud import pipeline as fp
    from pipelines.simulate.pipeline import SimulationParams, run

    data = tmp_path_factory.mktemp("fraud") / "data"
    mp = pytest.MonkeyPatch()
    _use(mp, data)
    settings = get_settings()
    run(SimulationParams(customers=300, terminals=600, days=60, seed=3),
        settings.path("raw", "transactions.parquet"))
    features.build(settings, settings.path("raw", "transactions.parquet"), validate=False)
    features.apply(settings)
    outcome = fp.train_reference(settings, TINY_CONFIG, TINY_WINDOWS)
    mp.undo()
    reset_settings()
    yield data, outcome


@pytest.fixture
def world(tiny_world, tmp_path, monkeypatch):
    """A private copy of the tiny world (registry included) for one test."""
    src, outcome = tiny_world
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    _use(monkeypatch, dst)
    yield get_settings(), outcome
    reset_settings()


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory):
    """An MLflow SQLite store with the fraud experiment, created once (migrations are slow)."""
    from models.fraud import registry

    data = tmp_path_factory.mktemp("mlflow-template") / "data"
    mp = pytest.MonkeyPatch()
    _use(mp, data)
    registry.connect(get_settings())
    mp.undo()
    reset_settings()
    return data / "mlflow" / "mlflow.db"


@pytest.fixture
def fresh_registry(data_dir, empty_mlflow_db):
    """The data_dir fixture with an empty fraud registry already in place."""
    (data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    shutil.copy(empty_mlflow_db, data_dir / "mlflow" / "mlflow.db")
    return data_dir
