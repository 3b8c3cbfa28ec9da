"""Finding 7: prod never trusts the public default JWT secret. A token forged with it
is refused by the prod verifier, and prod refuses to start on it (or on a short
secret, or RS256 without a key set URL), naming the variable to set."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from serving.composition import verifier
from serving.security import ApiError, issue_token
from smartpay.settings import LOCAL_JWT_SECRET, Settings, SettingsError

OWN_SECRET = "prod-secret-" + "x" * 40


def _prod(**over) -> Settings:
    return Settings(profile="prod", jwt_secret=OWN_SECRET, stripe_api_key="sk_live_x",
                    gateways={"enabled": ["stripe"]}, rewards={"enabled": False},
                    **over)


def test_an_admin_token_forged_with_the_public_default_secret_is_refused_in_prod():
    forged = issue_token(LOCAL_JWT_SECRET, "victim", ["admin"])
    with pytest.raises(ApiError) as err:
        asyncio.run(verifier(_prod()).verify(f"Bearer {forged}"))
    assert err.value.status == 401 and err.value.code == "invalid_token"
    assert "signature" in err.value.message.lower()


def test_a_token_signed_with_the_prods_own_secret_is_accepted():
    good = issue_token(OWN_SECRET, "m1", ["payments:read"])
    who = asyncio.run(verifier(_prod()).verify(f"Bearer {good}"))
    assert who.merchant_id == "m1" and who.scopes == {"payments:read"}


@pytest.mark.parametrize("secret", [LOCAL_JWT_SECRET, "", "short-secret"])
def test_prod_refuses_the_default_an_empty_or_a_short_jwt_secret(secret):
    with pytest.raises(SettingsError) as err:
        _prod().model_copy(update={"jwt_secret": SecretStr(secret)}).check_production()
    assert err.value.variable == "SMARTPAY_JWT_SECRET"


def test_prod_in_rs256_mode_without_a_key_set_url_names_the_jwks_variable():
    with pytest.raises(SettingsError) as err:
        _prod(serving={"jwt_algorithm": "RS256"}).check_production()
    assert err.value.variable == "SMARTPAY_SERVING__JWKS_URL"


def test_prod_refuses_a_router_clock_set_by_requests():
    _prod().check_production()  # the base settings pass
    with pytest.raises(SettingsError) as err:
        _prod(serving={"router_event_time": True}).check_production()
    assert err.value.variable == "SMARTPAY_SERVING__ROUTER_EVENT_TIME"


def test_prod_with_a_key_set_url_needs_no_shared_secret():
    _prod(serving={"jwks_url": "https://issuer.example/jwks.json"}).model_copy(
        update={"jwt_secret": SecretStr(LOCAL_JWT_SECRET)}).check_production()


def test_the_prod_api_runtime_refuses_to_build_on_the_default_secret(tmp_path):
    from serving.composition import build_runtime

    s = _prod().model_copy(update={"jwt_secret": SecretStr(LOCAL_JWT_SECRET)})
    with pytest.raises(SettingsError) as err:
        asyncio.run(build_runtime(s, fraud=None, router=None, gateways={}))
    assert err.value.variable == "SMARTPAY_JWT_SECRET"


def test_smartpay_serve_in_prod_on_the_default_secret_exits_2_naming_it(tmp_path):
    env = os.environ | {"SMARTPAY_PROFILE": "prod", "SMARTPAY_DATA_DIR": str(tmp_path),
                        "SMARTPAY_JWT_SECRET": LOCAL_JWT_SECRET}
    out = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--port", "3998"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "SMARTPAY_JWT_SECRET" in out.stderr and "refused in prod" in out.stderr
