"""`smartpay evaluate router` and `smartpay train router` end to end on a tiny world."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from smartpay.settings import get_settings
from tests.models.router.helpers import TEST_CONFIG

POLICIES = ["static_rule", "random", "sliding_window_sr", "thompson", "vw"]


def test_evaluate_prints_the_table_saves_the_plot_and_ends_with_the_json_report(data_dir):
    result = CliRunner().invoke(app, ["evaluate", "router", "--days", "1", "--customers", "400",
                                      "--config", str(TEST_CONFIG), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert set(report) == {"payments", "policies", "ope"}
    assert list(report["policies"]) == POLICIES
    for m in report["policies"].values():
        assert set(m) == {"auth_rate", "fee_per_success", "mean_latency_ms", "regret"}
    ope = report["ope"]["vw"]
    assert set(ope) == {"dr", "dr_ci", "truth"} and ope["dr_ci"][0] <= ope["dr"] <= ope["dr_ci"][1]
    assert any("sliding_window_sr" in line for line in lines[:-1])
    out = get_settings().path("router")
    assert (out / "regret.png").stat().st_size > 10_000
    log = pd.read_parquet(out / "decisions_random.parquet")
    assert len(log) == report["payments"] and log["propensity"].between(0, 1).all()


def test_evaluate_refuses_a_config_that_does_not_exist(data_dir):
    result = CliRunner().invoke(app, ["evaluate", "router", "--config", "missing.yaml", "--days", "1"])
    assert result.exit_code != 0


def test_train_registers_every_version_and_gates_it_against_the_baselines_and_champion(
        data_dir):
    args = ["train", "router", "--days", "1", "--customers", "400", "--config", str(TEST_CONFIG), "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    r1 = json.loads(first.stdout.strip().splitlines()[-1])
    assert r1["version"] == "1" and r1["champion_value"] is None
    assert set(r1["baselines"]) == {"static_rule", "sliding_window_sr", "thompson"}
    bar1 = max(b["dr"] for b in r1["baselines"].values())
    assert r1["promoted"] == (r1["challenger"]["dr_ci"][0] >= bar1)
    second = CliRunner().invoke(app, args + ["--cb-type", "ips"])
    assert second.exit_code == 0, second.output
    r2 = json.loads(second.stdout.strip().splitlines()[-1])
    assert r2["version"] == "2"
    assert (r2["champion_value"] is not None) == r1["promoted"]
    bar2 = max([r2["champion_value"] or 0.0, *(b["dr"] for b in r2["baselines"].values())])
    assert r2["promoted"] == (r2["challenger"]["dr_ci"][0] >= bar2)


def test_the_registered_router_is_replayed_on_its_own_next_to_the_other_policies(data_dir):
    tiny = ["--days", "1", "--customers", "400", "--config", str(TEST_CONFIG)]
    trained = CliRunner().invoke(app, ["train", "router", *tiny, "--json"])
    assert trained.exit_code == 0, trained.output
    version = json.loads(trained.stdout.strip().splitlines()[-1])["version"]
    result = CliRunner().invoke(app, ["evaluate", "router", *tiny, "--workers", "1",
                                      "--registered", version, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(report["policies"]) == [*POLICIES, "registered"]
    assert 0.5 < report["policies"]["registered"]["auth_rate"] <= 1.0


def test_a_registered_router_of_another_world_is_refused(data_dir):
    tiny = ["--days", "1", "--customers", "400"]
    trained = CliRunner().invoke(app, ["train", "router", *tiny, "--config", str(TEST_CONFIG)])
    assert trained.exit_code == 0, trained.output
    result = CliRunner().invoke(app, ["evaluate", "router", *tiny, "--world", "regional",
                                      "--workers", "1", "--registered", "1"])
    assert result.exit_code != 0 and "gateways" in str(result.exception or result.output)


def test_an_unknown_world_is_named_in_the_error(data_dir):
    result = CliRunner().invoke(app, ["evaluate", "router", "--world", "atlantis", "--days", "1"])
    assert result.exit_code != 0 and "atlantis" in str(result.exception)


def test_train_router_learns_and_registers_with_the_offline_vw_arguments():
    from models.router.config import load_config, world_path
    from pipelines.router.pipeline import TrainParams, training_config

    for world in ("default", "regional"):
        committed = load_config(world_path(world)).router
        cfg = training_config(TrainParams(config=world_path(world)))
        assert committed.offline_vw_args and cfg.router.vw_args == committed.offline_vw_args
        assert cfg.router.vw_args != committed.vw_args
