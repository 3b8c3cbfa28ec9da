"""Train -> register -> load by alias -> gate, on a tiny simulated world."""

import copy
import json

import numpy as np
import pytest
import xgboost as xgb

from models.fraud import behaviour, registry
from models.fraud.estimators import BASELINES, TUNED
from models.fraud.tracking import log_training_run
from models.fraud.protocol import Columns
from pipelines.fraud import pipeline as fp
from tests.pipelines.fraud.conftest import TINY_CONFIG


def test_first_training_registers_a_champion_with_four_models_compared(world):
    settings, out = world
    assert set(out.metrics) == {*BASELINES, TUNED}
    assert all(set(m) == {"auc", "ap", "cp100"} for m in out.metrics.values())
    assert out.decision.promote and out.champion == out.version
    assert registry.connect(settings).version_for_alias("challenger") == out.version


def test_training_features_are_exactly_the_fraud_model_v1_service(world):
    from features.store import open_store
    from pipelines.fraud.nodes import service_features

    settings, out = world
    service = open_store(settings).get_feature_service("fraud_model_v1")
    assert out.features == service_features(service)


def test_champion_loaded_by_alias_predicts_exactly_like_the_in_memory_model(world):
    settings, out = world
    window = registry.connect(settings).load_frame(out.version)
    loaded = registry.load_predictor("champion", settings)
    assert loaded.features == out.predictor.features
    assert loaded.thresholds == out.predictor.thresholds
    np.testing.assert_array_equal(loaded.scores(window), out.predictor.scores(window))
    assert loaded.predict(window.head(20)) == out.predictor.predict(window.head(20))


def test_prediction_gives_score_in_unit_interval_decision_and_top_features(world):
    settings, out = world
    window = registry.connect(settings).load_frame(out.version)
    for score, decision, top in out.predictor.predict(window.head(50)):
        assert 0.0 <= score <= 1.0
        assert decision in {"approve", "review", "decline"}
        assert len(top) == 3 and all(f in out.features for f, _ in top)


def test_trained_champion_passes_every_behaviour_check(world):
    settings, out = world
    window = registry.connect(settings).load_frame(out.version)
    sample = behaviour.genuine_sample(window, "is_fraud")
    checks = behaviour.run_all(out.predictor.scores, sample, out.features)
    assert [(c.name, c.passed) for c in checks] == [
        ("amount_x5_raises_score", True), ("risky_terminal_raises_score", True),
        ("renamed_ids_keep_score", True)], [c.detail for c in checks]


def test_run_logs_window_feature_service_features_plots_and_model_signature(world):
    settings, out = world
    reg = registry.connect(settings)
    client = reg.client
    run = client.get_run(out.run_id)
    assert run.data.tags["feature_service"] == "fraud_model_v1"
    assert run.data.tags["features"].split(",") == out.features
    assert "window.test_first" in run.data.params
    assert run.data.metrics["xgboost_tuned.ap"] == pytest.approx(out.metrics[TUNED]["ap"])
    arts = {a.path for a in client.list_artifacts(out.run_id, "plots")}
    assert arts == {f"plots/{n}.png" for n in ("pr_curve", "roc_curve",
                                               "feature_importance", "score_distribution")}
    info = reg.mlmodel(out.version)
    assert info.signature is not None and info.metadata["thresholds"]["review"] > 0


def _worse_challenger(settings, out):
    """Register a booster trained on shuffled labels (same features, same window)."""
    comp = copy.copy(out.comparison)
    feats, train = comp.features, comp.train_frame
    labels = np.random.default_rng(0).permutation(train["is_fraud"].to_numpy())
    dm = xgb.DMatrix(train[feats].to_numpy(np.float32), label=labels, feature_names=feats)
    comp.booster = xgb.train({"objective": "binary:logistic"}, dm, 20)
    comp.test_scores = comp.booster.inplace_predict(comp.test_frame[feats].to_numpy(
        np.float32))
    comp.all_scores = {**comp.all_scores, TUNED: comp.test_scores}
    reg = registry.connect(settings)
    _, model_id = log_training_run(reg, comp, TINY_CONFIG, Columns(), {"source": "test"})
    return reg, reg.register(model_id)


def test_gate_refuses_a_worse_challenger_and_logs_why(world):
    settings, out = world
    reg, bad = _worse_challenger(settings, out)
    decision = fp.gate_and_move(settings, reg, bad, tolerance=0.01)
    assert not decision.promote
    assert decision.challenger_ap < decision.champion_ap - 0.01
    assert reg.version_for_alias("champion") == out.version
    assert reg.version_tags(bad)["gate.promote"] == "false"
    logged = [json.loads(l) for l in fp.decisions_path(settings).read_text().splitlines()]
    assert logged[-1]["version"] == bad and "refused" in logged[-1]["reasons"][0]


def test_promote_command_path_refuses_while_another_run_holds_the_lock(world):
    settings, out = world
    reg, bad = _worse_challenger(settings, out)
    reg.set_alias("challenger", bad)
    with fp.exclusive(fp.lock_path(settings)):
        with pytest.raises(fp.LockBusy):
            fp.promote(settings)
    assert reg.version_for_alias("champion") == out.version


def test_logging_and_gating_use_the_profile_store_whatever_mlflow_globals_say(
        world, tmp_path, monkeypatch):
    decoy = tmp_path / "decoy" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{decoy}")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", f"sqlite:///{decoy}")
    settings, out = world
    reg, bad = _worse_challenger(settings, out)
    assert not fp.gate_and_move(settings, reg, bad, tolerance=0.01).promote
    assert reg.metadata(bad)["thresholds"] and not decoy.parent.exists()


def test_the_gate_check_writes_the_verdict_a_pipeline_reads_and_moves_nothing(
        world, tmp_path):
    from typer.testing import CliRunner

    from cli.main import app

    settings, out = world
    reg, bad = _worse_challenger(settings, out)
    reg.set_alias("challenger", bad)
    report = tmp_path / "evaluation" / "gate.json"
    result = CliRunner().invoke(app, ["promote", "fraud", "--check", "--report", str(report)])
    assert result.exit_code == 0, result.output
    verdict = json.loads(report.read_text())
    assert verdict["version"] == bad and verdict["promote"] is False
    assert reg.version_for_alias("champion") == out.version
    assert reg.version_for_alias("challenger") == bad
    assert not fp.decisions_path(settings).exists() or all(
        json.loads(l)["version"] != bad
        for l in fp.decisions_path(settings).read_text().splitlines())
