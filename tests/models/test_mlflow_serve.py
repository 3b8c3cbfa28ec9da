"""Both champions as stock MLflow models: `mlflow models serve` answers `/invocations`
with the in-process scores, and the router loads where our source is not importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from harness.processes import free_ports, server_process
from models.fraud.registry import FraudRegistry
from models.router.registry import RouterRegistry
from tests.models import tiny

MLFLOW = str(Path(sys.executable).parent / "mlflow")
# `mlflow models serve` starts `uvicorn` by name, as in an activated virtualenv.
_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture(scope="module")
def champions(tmp_path_factory):
    """A SQLite store with a tiny fraud champion and a router champion."""
    root = tmp_path_factory.mktemp("serve")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    fraud, router = FraudRegistry(uri), RouterRegistry(uri)
    tiny.register_fraud(fraud)
    tiny.register_router(router)
    return root, uri, fraud, router


def _serve(uri: str, model: str, log: Path, port: int):
    cmd = [MLFLOW, "models", "serve", "-m", f"models:/{model}@champion", "-p", str(port),
           "-h", "127.0.0.1", "--env-manager", "local", "--workers", "1"]
    return port, server_process(cmd, f"http://127.0.0.1:{port}/ping", log,
                                env={"MLFLOW_TRACKING_URI": uri, "PATH": _PATH},
                                timeout_s=90)


def test_mlflow_models_serve_answers_for_both_champions_with_in_process_scores(champions):
    root, uri, fraud, router = champions
    rows = tiny.fraud_frame(50, seed=7)[tiny.FEATURES]
    expected = fraud.load_predictor("champion").scores(rows)
    policy = router.load_policy("champion")
    want = policy.decide(dict(tiny.ROUTER_ROW), tiny.ELIGIBLE)
    fport, rport = free_ports(2)  # both picked before either server binds its own
    _, fraud_server = _serve(uri, "fraud-detector", root / "fraud.log", fport)
    _, router_server = _serve(uri, "gateway-router", root / "router.log", rport)
    with fraud_server, router_server:
        got = httpx.post(f"http://127.0.0.1:{fport}/invocations", timeout=30,
                         json={"dataframe_split": rows.to_dict(orient="split")})
        routed = httpx.post(f"http://127.0.0.1:{rport}/invocations", timeout=30, json={
            "dataframe_records": [{**tiny.ROUTER_ROW,
                                   "eligible_gateways": tiny.ELIGIBLE}]})
    assert got.status_code == 200, got.text
    np.testing.assert_allclose(got.json()["predictions"], expected, atol=1e-6)
    assert routed.status_code == 200, routed.text
    out = routed.json()["predictions"][0]
    assert out["ranking"] == want.ranking
    assert out["probabilities"] == pytest.approx(want.probabilities, abs=1e-6)
    assert out["gateway"] in want.ranking


def test_the_router_model_carries_signature_example_code_and_pinned_requirements(
        champions):
    _, _, _, router = champions
    version = router.version_for_alias("champion")
    folder = router.model_folder(version)
    info = router.mlmodel(version)
    assert "amount_minor" in info.signature.inputs.input_names()
    assert info.saved_input_example_info is not None
    assert (folder / "code" / "models" / "router" / "pyfunc.py").is_file()
    pins = (folder / "requirements.txt").read_text().split()
    assert any(p.startswith("vowpalwabbit==") for p in pins)
    assert all("==" in p for p in pins)


# Runs with our editable install hidden and from a folder without our source.
_ISOLATED = """
import sys, json
sys.meta_path = [f for f in sys.meta_path if "editable" not in str(f)]
try:
    import models
    raise SystemExit("our source is importable: " + models.__file__)
except ModuleNotFoundError:
    pass
import mlflow.pyfunc, pandas as pd
m = mlflow.pyfunc.load_model(sys.argv[1])
out = m.predict(pd.DataFrame([json.loads(sys.argv[2])]))
import models.router.pyfunc as p
print(json.dumps({"gateway": out[0]["gateway"], "module": p.__file__}))
"""


def test_the_router_model_loads_where_our_source_is_not_importable(champions, tmp_path):
    _, _, _, router = champions
    folder = router.model_folder(router.version_for_alias("champion"))
    res = subprocess.run([sys.executable, "-P", "-c", _ISOLATED, str(folder),
                          json.dumps(tiny.ROUTER_ROW)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["module"].startswith(str(folder))
    assert out["gateway"] in ("stripe", "amazon_pay", "solana", "acquirer_eu", "acquirer_na")
