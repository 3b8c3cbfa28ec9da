"""The prod profile refuses to start on a default secret or a missing key file, with
one line naming the setting, and its composition never loads the stand-in harness."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smartpay.settings import Settings, SettingsError


def _smartpay(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=os.environ | env,
                          capture_output=True, text=True, timeout=120)


def test_serve_in_prod_with_the_default_jwt_secret_exits_naming_the_setting(tmp_path):
    out = _smartpay("serve", "--port", "3999", env={
        "SMARTPAY_PROFILE": "prod", "SMARTPAY_DATA_DIR": str(tmp_path)})
    assert out.returncode != 0
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "SMARTPAY_JWT_SECRET" in lines[0], lines


def test_prod_without_the_reward_authority_key_file_names_that_setting(tmp_path):
    key = tmp_path / "amazon.pem"
    key.write_text("x")
    env = {"profile": "prod", "jwt_secret": "s" * 40, "stripe_api_key": "sk_live_x",
           "gateways": {"enabled": ["stripe"]},
           "rewards": {"mint": "M", "authority_keypair_file": tmp_path / "missing.json"}}
    with pytest.raises(SettingsError) as err:
        Settings(**env).check_production()
    assert err.value.variable == "SMARTPAY_REWARDS__AUTHORITY_KEYPAIR_FILE"


def test_prod_refuses_sandbox_hooks():
    s = Settings(profile="prod", jwt_secret="s" * 40, stripe_api_key="sk_live_x",
                 gateways={"enabled": ["stripe"], "sandbox_hooks": "harness.sandbox:hooks"},
                 rewards={"enabled": False})
    with pytest.raises(SettingsError) as err:
        s.check_production()
    assert err.value.variable == "SMARTPAY_GATEWAYS__SANDBOX_HOOKS"


def test_the_product_modules_never_import_the_harness():
    code = ("import sys, serving.services, serving.composition, cli.main; "
            "import integrations.gateways.registry, integrations.rewards; "
            "import serving.backends_sagemaker, models.deploy.sagemaker, "
            "models.deploy.retraining, models.deploy.tracking_server, models.promotion, "
            "models.deploy.inference_server, models.router.pyfunc; "
            "print([m for m in sys.modules if m == 'harness' or m.startswith('harness.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=os.environ | {"SMARTPAY_PROFILE": "prod"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
