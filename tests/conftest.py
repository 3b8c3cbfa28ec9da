"""Shared fixtures: an isolated data dir per test, access to the prod-profile servers,
and a guard that fails any test leaving a thread or a moved global behind.

Prod-profile tests ask for a server with `prod_server("redis")`. When the server is not
reachable they are skipped with the reason, except when SMARTPAY_REQUIRE_PROD=1 (set by
.ci/run), where the missing server fails the test: CI always proves the prod profile.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from tqdm.std import tqdm

from smartpay.settings import reset_settings

PROD_SERVERS = {
    "redis": ("127.0.0.1", 6379),
    "postgres": ("127.0.0.1", 5432),
    "nats": ("127.0.0.1", 4222),
    "rabbitmq": ("127.0.0.1", 5672),
    "mariadb": ("127.0.0.1", 3306),
}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def prod_server():
    """Return a checker: prod_server('redis') -> (host, port), or skip/fail if down."""

    def check(name: str) -> tuple[str, int]:
        host, port = PROD_SERVERS[name]
        if _reachable(host, port):
            return host, port
        reason = f"{name} is not reachable on {host}:{port} (prod-profile test)"
        if os.environ.get("SMARTPAY_REQUIRE_PROD") == "1":
            pytest.fail(reason + "; SMARTPAY_REQUIRE_PROD=1 forbids skipping")
        pytest.skip(reason)

    return check


@pytest.fixture(scope="session")
def spark():
    """A local[2] Spark session shared by a worker's Spark tests, or a skip naming what
    is missing (a failure under SMARTPAY_REQUIRE_PROD=1: CI always runs Spark)."""
    from smartpay.spark import spark_missing_reason, spark_session

    reason = spark_missing_reason()
    if reason:
        if os.environ.get("SMARTPAY_REQUIRE_PROD") == "1":
            pytest.fail(reason + "; SMARTPAY_REQUIRE_PROD=1 forbids skipping")
        pytest.skip(reason)
    with spark_session("local[2]", "smartpay-tests") as session:
        yield session


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Point SMARTPAY_DATA_DIR at a fresh temporary folder for this test."""
    monkeypatch.setenv("SMARTPAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTPAY_PROFILE", "local")
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


# --- The process-state guard ----------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]

# tqdm starts a monitor thread with its first progress bar (MLflow's artifact copies,
# Feast's materialisation) and keeps it for the life of the process. Off in the test
# process, so that the guard sees the threads our code starts; bars work without it.
tqdm.monitor_interval = 0

# Threads started while a fixture wider than a test is set up (a session stand-in that
# a test asks for lazily with `request.getfixturevalue`, say) live as long as that
# fixture: they are its, not the test's.
_FIXTURE_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

# Warning filters added by this repository's code (not its virtualenv), by identity
# (id -> the entry, kept so the id is never reused). Only these count: libraries add
# and re-create filters when first imported, some from worker threads racing on
# `catch_warnings` (scikit-learn's joblib helpers), which no test of ours can help.
# Recorded by wrapping `warnings.filterwarnings`/`simplefilter` in the test process.
_OUR_FILTERS: dict[int, tuple] = {}


def _ours(path: str) -> bool:
    file = Path(path).resolve()
    return file.is_relative_to(REPO) and not file.is_relative_to(REPO / ".venv")


def _recording_caller(add_filter):
    @functools.wraps(add_filter)
    def add(*args, **kwargs):
        known = {id(f) for f in warnings.filters}
        add_filter(*args, **kwargs)
        if _ours(sys._getframe(1).f_code.co_filename):
            _OUR_FILTERS.update((id(f), f) for f in warnings.filters if id(f) not in known)
    return add


warnings.filterwarnings = _recording_caller(warnings.filterwarnings)
warnings.simplefilter = _recording_caller(warnings.simplefilter)


class _WiderFixtureThreads:
    """Records the threads each wider fixture starts. A plugin rather than a hook of
    this conftest: pytest runs a session fixture's setup hook with the hooks of the
    root folder only, where this conftest's are not seen."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.scope == "function":
            return (yield)
        before = set(threading.enumerate())
        try:
            return (yield)
        finally:
            _FIXTURE_THREADS.update(t for t in threading.enumerate() if t not in before)


def pytest_configure(config):
    config.pluginmanager.register(_WiderFixtureThreads(), "smartpay-fixture-threads")


# The longest test files, longest first: seconds each took in a whole run on two
# workers (`make test` prints the slowest tests; 2026-12-03, 1,672 s in all). `make
# test` hands files to its two workers in collection order (`--dist loadfile
# --no-loadscope-reorder`), so these start first and the short files fill in around
# them: xdist's own order (most tests first) had left the single-test Spark cluster
# file (236-318 s) to start last, with the other worker idle for minutes.
LONGEST_FIRST = (
    "tests/pipelines/fraud/test_spark_cluster.py",  # 236 s
    "tests/serving/security/test_served_api.py",  # 218 s (schemathesis)
    "tests/serving/test_router_through_api.py",  # 108 s
    "tests/pipelines/fraud/test_spark_train_score.py",  # 80 s
    "tests/web/test_browser.py",  # CI only (Chromium)
    "tests/serving/e2e/test_crash.py",  # 53 s
    "tests/serving/e2e/test_rewards_restart.py",  # 51 s
    "tests/pipelines/test_features.py",  # 46 s
    "tests/pipelines/fraud/test_ui.py",  # 37 s
    "tests/serving/e2e/test_workers.py",  # 34 s
    "tests/pipelines/fraud/test_pipeline_spark.py",  # 34 s
    "tests/models/test_mlflow_serve.py",  # 34 s
)


def pytest_collection_modifyitems(session, config, items):
    """The LONGEST_FIRST files first, in that order; every other file after them, in
    collection order (a stable sort: tests keep their order within a file)."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@dataclass(frozen=True)
class ProcessState:
    """What a test must leave as it found it: threads and process-wide settings."""

    threads: frozenset[threading.Thread]
    mlflow_tracking_uri: str
    mlflow_registry_uri: str
    env_mlflow_tracking_uri: str | None
    env_mlflow_registry_uri: str | None
    root_log_handlers: tuple[logging.Handler, ...]
    root_log_level: int
    warning_filters: tuple  # those our code added (see _OUR_FILTERS)


def _pytest_handler(handler: logging.Handler) -> bool:
    # pytest attaches its own capture handlers to the root logger in each test phase.
    return type(handler).__module__.startswith("_pytest")


def process_state() -> ProcessState:
    """A snapshot of the state the guard watches."""
    import mlflow

    root = logging.getLogger()
    return ProcessState(
        frozenset(threading.enumerate()), mlflow.get_tracking_uri(),
        mlflow.get_registry_uri(), os.environ.get("MLFLOW_TRACKING_URI"),
        os.environ.get("MLFLOW_REGISTRY_URI"),
        tuple(h for h in root.handlers if not _pytest_handler(h)), root.level,
        tuple(f for f in warnings.filters if _OUR_FILTERS.get(id(f)) is f))


def _new_threads(before: ProcessState, grace_s: float) -> list[threading.Thread]:
    """Threads started since `before` still alive after a shared grace period."""
    deadline = time.monotonic() + grace_s
    left = []
    for thread in threading.enumerate():
        if thread in before.threads or thread in _FIXTURE_THREADS:
            continue
        try:
            thread.join(max(0.0, deadline - time.monotonic()))
        except RuntimeError:  # a foreign (dummy) thread cannot be joined
            pass
        if thread.is_alive():
            left.append(thread)
    return left


def leftovers(before: ProcessState, grace_s: float = 1.0) -> list[str]:
    """Everything that differs from `before`, one readable line each."""
    found = [f"thread {t.name!r} ({type(t).__name__}, daemon={t.daemon}) is still "
             "running" for t in _new_threads(before, grace_s)]
    after = process_state()
    for field in fields(ProcessState):
        if field.name == "threads":
            continue
        old, new = getattr(before, field.name), getattr(after, field.name)
        if old != new:
            found.append(f"{field.name} changed from {old!r} to {new!r}")
    return found


@pytest.fixture(autouse=True)
def process_state_guard():
    """Fail a test that leaves a thread running or a process-wide setting moved.

    Runs first and ends last among a test's fixtures: what wider fixtures start is
    theirs, and monkeypatch is undone before the check."""
    before = process_state()
    yield
    problems = leftovers(before)
    if problems:
        pytest.fail("the test left process state behind:\n  " + "\n  ".join(problems),
                    pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def service_logs_hold_no_card_data(tmp_path_factory):
    """After the run, no line of any log file a test process wrote (the served API's
    serve.log above all) holds a card number, a token or the configured secret."""
    yield
    from tests.serving.security.logscan import DEFAULT_SECRETS, scan, service_logs

    secrets = {os.environ.get("SMARTPAY_JWT_SECRET", ""), *DEFAULT_SECRETS}
    problems = scan(service_logs(tmp_path_factory.getbasetemp()), secrets)
    if problems:
        pytest.fail("service logs leak card data or secrets:\n  " +
                    "\n  ".join(problems[:20]), pytrace=False)
