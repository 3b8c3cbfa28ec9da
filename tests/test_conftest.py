"""The process-state guard of tests/conftest.py: what it lets pass and what it reports."""

from __future__ import annotations

import logging
import os
import threading
import warnings

import mlflow
import pytest

from tests.conftest import leftovers, process_state


def test_a_thread_started_and_stopped_within_the_test_leaves_nothing():
    before = process_state()
    thread = threading.Thread(target=lambda: None, name="short-lived")
    thread.start()
    thread.join()
    assert leftovers(before) == []


def test_a_thread_that_ends_within_the_grace_period_is_not_a_leak():
    before = process_state()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="finishing")
    thread.start()
    threading.Timer(0.05, stop.set).start()
    assert leftovers(before, grace_s=1.0) == []


def test_a_thread_left_running_is_reported_by_name():
    before = process_state()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="leaky-watcher", daemon=True)
    thread.start()
    try:
        [problem] = leftovers(before, grace_s=0.05)
        assert "'leaky-watcher'" in problem and "still running" in problem
    finally:
        stop.set()
        thread.join()


def test_a_moved_mlflow_tracking_uri_is_reported(tmp_path):
    before = process_state()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        found = " ".join(leftovers(before, grace_s=0))
        assert "mlflow_tracking_uri changed" in found
        assert "env_mlflow_tracking_uri changed" in found  # MLflow exports it too
    finally:
        mlflow.set_tracking_uri(None)
    assert leftovers(before, grace_s=0) == []


def test_an_environment_variable_set_without_monkeypatch_is_reported():
    before = process_state()
    os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///elsewhere.db"
    try:
        assert any(p.startswith("env_mlflow_tracking_uri")
                   for p in leftovers(before, grace_s=0))
    finally:
        if before.env_mlflow_tracking_uri is None:
            del os.environ["MLFLOW_TRACKING_URI"]
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before.env_mlflow_tracking_uri


def test_the_same_variable_set_with_monkeypatch_is_undone_before_the_check(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    # the autouse guard checks after monkeypatch is undone: this test passes


def test_a_root_logging_handler_or_level_is_reported():
    root, before = logging.getLogger(), process_state()
    handler, level = logging.NullHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if level != logging.DEBUG else logging.INFO)
    try:
        found = leftovers(before, grace_s=0)
        assert {p.split()[0] for p in found} == {"root_log_handlers", "root_log_level"}
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_changed_warnings_filter_is_reported():
    with warnings.catch_warnings():
        before = process_state()
        warnings.simplefilter("ignore", UserWarning)
        assert [p.split()[0] for p in leftovers(before, grace_s=0)] == ["warning_filters"]


def test_a_warnings_filter_added_by_a_library_outside_the_repo_is_not_reported():
    with warnings.catch_warnings():
        before = process_state()
        library = compile("import warnings\nwarnings.simplefilter('ignore', UserWarning)",
                          "/usr/lib/python3/dist-packages/somelib.py", "exec")
        exec(library, {})  # noqa: S102 - code that claims to live in a library
        assert leftovers(before, grace_s=0) == []


@pytest.fixture(scope="module")
def module_standin():
    """A stand-in living for the module, started lazily by the test that needs it."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="module-standin")
    thread.start()
    yield thread
    stop.set()
    thread.join()


def test_a_thread_of_a_fixture_wider_than_the_test_belongs_to_the_fixture(request):
    before = process_state()
    thread = request.getfixturevalue("module_standin")
    assert thread.is_alive() and leftovers(before, grace_s=0) == []
