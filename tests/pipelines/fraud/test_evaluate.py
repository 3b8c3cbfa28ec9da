"""`smartpay evaluate fraud`: several worlds and weeks, intervals by card, MLflow run."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.fraud.estimators import BASELINES, TUNED
from pipelines.fraud.evaluation import EARLY_MODEL, HANDBOOK_MODEL, ISSUER_MODEL
from smartpay.errors import InputError

SMALL = ["--customers", "300", "--terminals", "600", "--days", "60", "--folds", "2",
         "--trials", "1", "--boot", "100"]


@pytest.mark.slow
def test_cli_reports_every_model_per_week_and_pooled_and_logs_the_run(data_dir):
    from mlflow import MlflowClient

    from cli.main import app
    from smartpay.settings import get_settings

    res = CliRunner().invoke(app, ["evaluate", "fraud", "--json", "--weeks", "2",
                                   "--seeds", "4,5", *SMALL])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    assert [w["set"].split(" test ")[0] for w in report["weeks"]] == ["seed 4"] * 2 + \
        ["seed 5"] * 2
    pooled = report["pooled"]
    assert set(pooled["models"]) == {*BASELINES, TUNED, HANDBOOK_MODEL}
    assert set(pooled["paired"]) == {f"{TUNED}-{b}" for b in (*BASELINES, HANDBOOK_MODEL)}
    for stats in pooled["models"].values():
        for m in ("auc", "ap", "cp100"):
            assert stats[m]["lo"] <= stats[m]["value"] <= stats[m]["hi"]
    rf = pooled["paired"][f"{TUNED}-random_forest"]["ap"]
    assert rf["win"] == (rf["lo"] > 0)
    assert pooled["positives"] == sum(w["positives"] for w in report["weeks"]) > 0
    spot = pooled["blind_spot"][TUNED]
    assert spot["frauds"] == pooled["positives"]
    lo, hi = spot["recall_other_ci"]
    assert lo <= spot["recall_other"] <= hi
    run = MlflowClient(get_settings().tracking_uri).get_run(report["run_id"])
    ap = pooled["models"][TUNED]["ap"]["value"]
    assert run.data.metrics[f"pooled.{TUNED}.ap.value"] == pytest.approx(ap)
    assert run.data.params["seeds"] == "4,5"


@pytest.mark.parametrize("args, field", [(["--seeds", "1,x"], "--seeds"),
                                         (["--seeds", "1,1"], "--seeds"),
                                         (["--weeks", "0"], "--weeks"),
                                         (["--boot", "10"], "--boot"),
                                         (["--issuer-share", "1.5"], "--issuer-share"),
                                         (["--issuer-min-delay", "-1"],
                                          "--issuer-min-delay"),
                                         (["--issuer-min-delay", "3",
                                           "--issuer-max-delay", "2"],
                                          "--issuer-max-delay")])
def test_cli_names_a_bad_option_before_doing_any_work(data_dir, args, field):
    from cli.main import app

    res = CliRunner().invoke(app, ["evaluate", "fraud", *args])
    assert isinstance(res.exception, InputError) and field in str(res.exception)
    assert not (data_dir / "fraud" / "evaluation").exists()


def test_terminal_first_week_flags_frauds_the_delayed_terminal_features_cannot_see():
    from pipelines.fraud.nodes import terminal_first_week

    t0 = pd.Timestamp("2024-01-01")
    rows = [  # (day, terminal, scenario)
        (0, 1, 2), (3, 1, 2), (6.9, 1, 2),  # days 0-7 of terminal 1: no label visible
        (7.5, 1, 2),                        # day 0's label is visible 7 days later
        (8, 2, 0), (9, 2, 1),               # not terminal compromise: never flagged
        (50, 1, 2)]                          # last visible label (day 0..7.5) > 30 d old
    tx = pd.DataFrame({"timestamp": [t0 + pd.Timedelta(days=d) for d, _, _ in rows],
                       "terminal_id": [t for _, t, _ in rows],
                       "fraud_scenario": [s for _, _, s in rows]})
    assert terminal_first_week(tx).tolist() == [True, True, True, False, False, False,
                                                True]


@pytest.mark.slow
def test_early_outcomes_add_the_three_tuned_variants_paired_against_the_tuned_model(
        data_dir):
    from cli.main import app

    res = CliRunner().invoke(app, [
        "evaluate", "fraud", "--json", "--weeks", "1", "--seeds", "4", "--customers",
        "300", "--terminals", "600", "--days", "100", "--folds", "2", "--trials", "1",
        "--boot", "100", "--early-outcomes", "--issuer-share", "0.8"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output.strip().splitlines()[-1])
    pooled = report["pooled"]
    assert report["issuer_reports"]["share"] == 0.8
    for name in (ISSUER_MODEL, EARLY_MODEL):
        assert f"{name}-{TUNED}" in pooled["paired"]
        assert f"{name}-{TUNED}" in pooled["blind_spot_paired"]
        assert pooled["blind_spot"][name]["first_week_frauds"] == \
            pooled["blind_spot"][TUNED]["first_week_frauds"]
