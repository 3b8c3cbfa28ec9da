"""Worker counts per service come from the settings tree, reach the processes BentoML
starts, and are refused where the profile cannot share the state between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from serving.launcher import workers_env
from smartpay.errors import InputError
from smartpay.settings import Settings, SettingsError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# What `bentoml serve` does with a service before it starts its processes: load the
# configuration (the decorators' values, then BENTOML_CONFIG_OPTIONS over them) and ask
# its allocator how many workers each service gets.
_PROBE = """
import json
from _bentoml_impl.server.allocator import ResourceAllocator
from serving.services import PaymentAPI
PaymentAPI.inject_config()
alloc = ResourceAllocator()
print(json.dumps({s.name: alloc.get_worker_env(s)[0]
                  for s in PaymentAPI.all_services().values()}))
"""


def _allocated(env: dict[str, str]) -> dict[str, int]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTPAY_",
                                                                      "BENTOML_"))}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=base | env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bentoml_starts_the_worker_counts_the_settings_name_for_each_service(tmp_path):
    env = {"SMARTPAY_PROFILE": "prod", "SMARTPAY_DATA_DIR": str(tmp_path),
           **workers_env({"api": 2, "fraud": 3, "router": 2})}
    assert _allocated(env) == {"payment_api": 2, "fraud_scorer": 3, "gateway_router": 2}


def test_one_worker_per_service_is_the_default(tmp_path):
    assert _allocated({"SMARTPAY_DATA_DIR": str(tmp_path)}) == {
        "payment_api": 1, "fraud_scorer": 1, "gateway_router": 1}


@pytest.mark.parametrize("kind", ["api", "router"])
def test_the_local_profile_refuses_workers_whose_state_it_cannot_share(kind,
                                                                       monkeypatch):
    monkeypatch.setenv("SMARTPAY_PROFILE", "local")
    monkeypatch.setenv(f"SMARTPAY_SERVING__{kind.upper()}_WORKERS", "2")
    with pytest.raises(SettingsError) as err:
        Settings()
    assert err.value.variable == f"SMARTPAY_SERVING__{kind.upper()}_WORKERS"
    assert "prod profile" in str(err.value)


def test_the_local_profile_takes_several_fraud_workers_which_share_nothing(monkeypatch):
    monkeypatch.setenv("SMARTPAY_PROFILE", "local")
    monkeypatch.setenv("SMARTPAY_SERVING__FRAUD_WORKERS", "2")
    assert Settings().serving.fraud_workers == 2


def test_the_prod_profile_takes_several_api_and_router_workers(monkeypatch):
    monkeypatch.setenv("SMARTPAY_PROFILE", "prod")
    monkeypatch.setenv("SMARTPAY_SERVING__API_WORKERS", "4")
    monkeypatch.setenv("SMARTPAY_SERVING__ROUTER_WORKERS", "2")
    s = Settings().serving
    assert (s.api_workers, s.router_workers) == (4, 2)


def test_the_launcher_names_an_unknown_service_or_a_bad_count():
    with pytest.raises(InputError, match="workers: got 'scorer'"):
        workers_env({"scorer": 2})
    with pytest.raises(InputError, match="workers.api: got 0"):
        workers_env({"api": 0})
