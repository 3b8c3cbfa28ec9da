"""The stock Feast CLI works on `features/` with the committed local `feature_store.yaml`.

Runs `feast plan`, `feast apply` and `feast ui` as a user would, from `features/`, as
subprocesses; state goes to a temporary FEAST_DATA_DIR.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.processes import free_port, server_process

ROOT = Path(__file__).resolve().parents[2]
FEAST = str(Path(sys.executable).with_name("feast"))
LOCAL_YAML = "envs/local/feature_store.yaml"


def _env(data_dir: Path) -> dict[str, str]:
    # PYTHONPATH: the CLI must import this checkout's `features` package.
    return {**os.environ, "FEAST_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}


def _feast(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FEAST, "-f", LOCAL_YAML, *args],
        cwd=ROOT / "features",
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Path:
    """A Feast data dir after a stock `feast apply`."""
    data_dir = tmp_path_factory.mktemp("feast-cli")
    result = _feast("apply", data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return data_dir


@pytest.mark.slow
def test_feast_plan_lists_every_view_once_without_name_conflicts(tmp_path):
    result = _feast("plan", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in (
        "customer_spending",
        "terminal_risk",
        "card_profile",
        "gateway_stats",
        "transaction_context",
        "fraud_model_v1",
        "routing_v1",
    ):
        assert result.stdout.count(f" {name}\n") == 1, (name, result.stdout)


@pytest.mark.slow
def test_feast_apply_writes_a_registry_holding_both_feature_services(
    applied, monkeypatch
):
    from feast import FeatureStore
    from feast.repo_config import load_repo_config

    monkeypatch.setenv("FEAST_DATA_DIR", str(applied))
    config = load_repo_config(ROOT / "features", ROOT / "features" / LOCAL_YAML)
    names = {s.name for s in FeatureStore(config=config).list_feature_services()}
    assert names == {"fraud_model_v1", "routing_v1"}


@pytest.mark.slow
def test_feast_ui_starts_and_serves_the_registry_page(applied):
    port = free_port()
    cmd = [FEAST, "-f", LOCAL_YAML, "ui", "--host", "127.0.0.1", "--port", str(port)]
    env = {"FEAST_DATA_DIR": str(applied), "PYTHONPATH": str(ROOT)}
    with server_process(cmd, f"http://127.0.0.1:{port}/", applied / "feast-ui.out",
                        env=env, cwd=ROOT / "features"):
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert response.status_code == 200
        projects = httpx.get(f"http://127.0.0.1:{port}/projects-list.json", timeout=5)
        assert projects.status_code == 200 and "smartpay" in projects.text
