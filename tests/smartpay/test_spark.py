"""Spark sessions start with the memory the settings give them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from smartpay.settings import Settings

pytestmark = pytest.mark.spark

_PROBE = """
import json
from smartpay.settings import get_settings
from smartpay.spark import spark_session
s = get_settings()
with spark_session("local[1]", "probe", s.spark.session_conf()) as spark:
    jvm = spark.sparkContext._jvm
    print(json.dumps({"conf": spark.sparkContext.getConf().get("spark.driver.memory"),
                      "heap_mb": jvm.java.lang.Runtime.getRuntime().maxMemory() / 2**20}))
"""


def test_driver_memory_comes_from_the_settings_tree(monkeypatch):
    monkeypatch.setenv("SMARTPAY_SPARK__DRIVER_MEMORY", "6g")
    monkeypatch.setenv("SMARTPAY_SPARK__CONF", '{"spark.executor.cores": "3"}')
    conf = Settings().spark.session_conf()
    assert conf == {"spark.driver.memory": "6g", "spark.executor.cores": "3"}


def test_executor_memory_is_left_to_the_cluster_unless_set():
    assert "spark.executor.memory" not in Settings().spark.session_conf()
    assert Settings(spark={"executor_memory": "8g"}).spark.session_conf()[
        "spark.executor.memory"] == "8g"


def test_a_new_session_gets_the_driver_heap_it_was_configured_with(spark):
    # A process holds one JVM, and this one already runs the tests' session: the
    # probe starts its own (the `spark` fixture only proves Java is here).
    env = {**os.environ, "SMARTPAY_SPARK__DRIVER_MEMORY": "1536m"}
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["conf"] == "1536m"
    assert 1024 < got["heap_mb"] <= 1536  # Spark's default would give under 1024
