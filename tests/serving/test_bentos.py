"""`smartpay bento build` makes one Bento per service, pinned to registered versions.

The build test registers model versions in a throwaway MLflow store (no training: a
Bento pins versions, it does not load them at build time), builds every Bento into a
temporary BENTOML_HOME with the real `bentoml` build, and reads what the Bentos hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serving.bentos import bentofile, portable_requirements

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_FILES = (
    "integrations/rag/kb/payments.md",
    "serving/ledger/alembic.ini",
    "serving/ledger/migrations/versions/0001_initial.py",
    "features/envs/prod/feature_store.yaml",
    "features/.feastignore",
    "models/router/config/default.yaml",
    "smartpay/settings.py",
    "cli/main.py",  # the retraining jobs and the Feast job run `python -m cli.main`
    "pipelines/fraud/__init__.py",
)


def test_the_requirements_drop_the_local_cpu_label_that_exists_on_no_index():
    lock = "numpy==2.4.6\ntorch==2.13.0+cpu\nfoo[bar]==1.0+local ; python_version>'3'\n"
    assert portable_requirements(lock) == (
        "numpy==2.4.6\ntorch==2.13.0\nfoo[bar]==1.0 ; python_version>'3'\n"
    )


def test_a_bento_is_refused_when_a_model_it_serves_has_no_pinned_version():
    with pytest.raises(ValueError, match="gateway-router"):
        bentofile("payment_api", {"fraud-detector": "3"}, ["numpy==2.4.6"])


@pytest.fixture(scope="module")
def built_bentos(tmp_path_factory) -> Path:
    """BENTOML_HOME after `smartpay bento build` with fraud v2 and router v1 champions."""
    from mlflow import MlflowClient

    tmp = tmp_path_factory.mktemp("bentos")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name, versions, champion in (
        ("fraud-detector", 3, "2"),
        ("gateway-router", 1, "1"),
    ):
        client.create_registered_model(name)
        for _ in range(versions):
            client.create_model_version(name, source=str(tmp / "artifacts"))
        client.set_registered_model_alias(name, "champion", champion)
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp / "bentoml"),
        "PYTHONPATH": str(ROOT),
        "SMARTPAY_MLFLOW_TRACKING_URI": uri,
        "SMARTPAY_DATA_DIR": str(tmp / "data"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "bento", "build"],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    return tmp / "bentoml" / "bentos"


def _bento(home: Path, name: str) -> Path:
    (path,) = [p for p in (home / name).iterdir() if p.is_dir()]
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, pins",
    [
        ("payment_api", {"fraud-detector": "2", "gateway-router": "1"}),
        ("fraud_scorer", {"fraud-detector": "2"}),
        ("gateway_router", {"gateway-router": "1"}),
    ],
)
def test_each_bento_pins_the_champion_versions_it_serves_by_immutable_uri(
    built_bentos, name, pins
):
    info = yaml.safe_load((_bento(built_bentos, name) / "bento.yaml").read_text())
    labels = {k: v for k, v in info["labels"].items() if k != "owner"}
    assert labels == {m: f"models:/{m}/{v}" for m, v in pins.items()}
    envs = {e["name"]: e.get("value") for e in info["envs"]}
    if "fraud-detector" in pins:
        assert envs["SMARTPAY_SERVING__FRAUD_MODEL_VERSION"] == pins["fraud-detector"]
        assert envs["SMARTPAY_SERVING__FRAUD_BACKEND"].startswith(
            "serving.backends_pinned:"
        )
    if "gateway-router" in pins:
        assert envs["SMARTPAY_SERVING__ROUTER_MODEL_VERSION"] == pins["gateway-router"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["payment_api", "fraud_scorer", "gateway_router"])
def test_each_bento_holds_what_its_service_reads_at_run_time(built_bentos, name):
    bento = _bento(built_bentos, name)
    for rel in RUNTIME_FILES:
        assert (bento / "src" / rel).is_file(), rel
    assert not (bento / "src" / "tests").exists()
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "torch==2.13.0\n" in requirements and "+cpu" not in requirements
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
