"""`smartpay evaluate fraud`: several worlds and weeks, intervals by card, MLflow run."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from models.fraud.estimators import BASELINES, TUNED
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
    assert set(pooled["models"]) == {*BASELINES, TUNED}
    assert set(pooled["paired"]) == {f"{TUNED}-{b}" for b in BASELINES}
    for stats in pooled["models"].values():
        for m in ("auc", "ap", "cp100"):
            assert stats[m]["lo"] <= stats[m]["value"] <= stats[m]["hi"]
    rf = pooled["paired"][f"{TUNED}-random_forest"]["ap"]
    assert rf["win"] == (rf["lo"] > 0)
    assert pooled["positives"] == sum(w["positives"] for w in report["weeks"]) > 0
    assert pooled["blind_spot"]["frauds"] == pooled["positives"]
    run = MlflowClient(get_settings().tracking_uri).get_run(report["run_id"])
    ap = pooled["models"][TUNED]["ap"]["value"]
    assert run.data.metrics[f"pooled.{TUNED}.ap.value"] == pytest.approx(ap)
    assert run.data.params["seeds"] == "4,5"


@pytest.mark.parametrize("args, field", [(["--seeds", "1,x"], "--seeds"),
                                         (["--seeds", "1,1"], "--seeds"),
                                         (["--weeks", "0"], "--weeks"),
                                         (["--boot", "10"], "--boot")])
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
