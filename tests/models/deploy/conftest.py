"""The AWS stand-in (moto's server mode, a real HTTP server) for the deployment tests,
started once per session by the harness."""

from __future__ import annotations

import pytest

REPO = __import__("pathlib").Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """The stand-in's endpoint URL."""
    from harness.moto_server import running_moto

    with running_moto(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """This test's process pointed at the stand-in (fake keys, endpoint, region)."""
    from harness.moto_server import aws_env

    env = aws_env(moto_endpoint)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
