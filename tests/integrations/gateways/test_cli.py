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
