"""The `smartpay gateways` / `smartpay rewards` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from smartpay.errors import InputError


def test_gateways_try_should_pay_refund_and_reward_on_every_gateway(data_dir):
    result = CliRunner().invoke(app, ["gateways", "try", "--amount", "3000", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["gateway"] for r in rows] == ["stripe", "amazon_pay", "solana"]
    assert all(r["status"] == "partially_refunded" and r["refunded"] == 600 for r in rows)
    assert all(r["reward_units"] == 3_000_000 and r["reward_state"] == "escrowed" for r in rows)


def test_rewards_balance_should_reject_a_malformed_wallet_naming_the_field(data_dir):
    with pytest.raises(InputError) as info:
        CliRunner().invoke(app, ["rewards", "balance", "not-a-wallet"], catch_exceptions=False)
    assert info.value.field == "wallet"


def test_local_commands_read_the_harness_addresses_beneath_their_own_environment(
        data_dir, monkeypatch):
    from cli.gateways_cmds import _settings

    env_file = data_dir / "standins" / "standins.env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text('SMARTPAY_REWARDS__MINT="FromHarness"\n'
                        'SMARTPAY_GATEWAYS__SOLANA_RPC_URL="http://127.0.0.1:1"\n')
    assert _settings().rewards.mint == "FromHarness"
    monkeypatch.setenv("SMARTPAY_REWARDS__MINT", "FromEnvironment")
    s = _settings()
    assert s.rewards.mint == "FromEnvironment"
    assert s.gateways.solana_rpc_url == "http://127.0.0.1:1"
