"""Scheduled retraining: drift report, gate, lock, failure leaves everything as it was."""

import pytest

from models.fraud import registry
from pipelines.fraud import nodes
from pipelines.fraud import pipeline as fp
from smartpay.errors import InputError
from tests.pipelines.fraud.conftest import TINY_CONFIG, TINY_WINDOWS


def _aliases(settings):
    reg = registry.connect(settings)
    return {a: reg.version_for_alias(a) for a in ("champion", "challenger")}


def test_retrain_writes_psi_per_feature_and_score_then_gates_a_new_version(world):
    settings, first = world
    out = fp.retrain(settings, TINY_CONFIG, TINY_WINDOWS)
    assert out.version != first.version
    assert set(out.drift["psi"]) == {*first.features, "score"}
    assert all(v["psi"] >= 0 for v in out.drift["psi"].values())
    assert (settings.path("fraud", "drift", f"v{out.version}.json")).exists()
    assert _aliases(settings)["challenger"] == out.version
    assert _aliases(settings)["champion"] == (out.version if out.decision.promote
                                              else first.version)


def test_a_failed_retrain_changes_no_alias_and_registers_nothing(world, monkeypatch):
    settings, first = world
    before = _aliases(settings)

    def boom(*a, **k):
        raise RuntimeError("training crashed")

    monkeypatch.setattr(fp, "compare_models", boom)
    with pytest.raises(RuntimeError):
        fp.retrain(settings, TINY_CONFIG, TINY_WINDOWS)
    assert _aliases(settings) == before
    client = registry.connect(settings).client
    assert [str(v.version) for v in client.search_model_versions("name='fraud-detector'")] == [
        first.version]


def test_a_second_retrain_is_refused_while_one_is_running(world):
    settings, _ = world
    with fp.exclusive(fp.lock_path(settings).with_suffix(".retrain")):
        with pytest.raises(fp.LockBusy, match="another"):
            fp.retrain(settings, TINY_CONFIG, TINY_WINDOWS)


def test_scheduler_loop_keeps_running_after_a_failed_run():
    calls, sleeps = [], []

    def job():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    assert fp.every(86_400, job, sleep=sleeps.append, max_runs=3) == 3
    assert len(calls) == 3 and sleeps == [86_400, 86_400]


@pytest.mark.parametrize("text, seconds", [("24h", 86_400), ("30m", 1_800), ("90s", 90),
                                           ("2d", 172_800)])
def test_interval_parsing(text, seconds):
    assert nodes.parse_interval(text) == seconds


def test_a_bad_interval_names_the_option():
    with pytest.raises(InputError, match="every"):
        nodes.parse_interval("daily")
