"""The one place a Spark session is built, for every pipeline step that runs on Spark.

pyspark is imported inside the functions: it is an optional extra, and importing it
starts nothing, but the CLI must not pay its import time unless a command uses Spark.
The session is owned by the caller (a context manager stops it), never cached here.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from smartpay.errors import SmartPayError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkUnavailable(SmartPayError):
    """Spark was asked for but cannot start here (no pyspark or no Java)."""


def spark_missing_reason() -> str | None:
    """Why Spark cannot start on this machine, or None if it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'smartpay-platform[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))) \
            and shutil.which("java") is None:
        return "Java 17+ is not installed (Spark needs a JVM on PATH or JAVA_HOME)"
    return None


def _builder(master: str, app_name: str, conf: dict[str, str]):
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.shuffle.partitions", "8"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder


def _worker_python(master: str, conf: dict[str, str]) -> str | None:
    """The Python that runs this session's Python workers (UDFs, xgboost.spark).

    pyspark takes PYSPARK_PYTHON or `python3` on PATH, which outside an activated venv
    lacks pandas. Locally the driver's own interpreter is right; on a cluster it is
    `spark.pyspark.python` (or PYSPARK_PYTHON), since the driver's path may not exist
    on the executors' machines."""
    explicit = conf.get("spark.pyspark.python") or os.environ.get("PYSPARK_PYTHON")
    return explicit or (sys.executable if master.startswith("local") else None)


@contextmanager
def spark_session(master: str, app_name: str = "smartpay",
                  conf: dict[str, str] | None = None) -> Iterator[SparkSession]:
    """A Spark session on `master` (`local[2]`, `spark://host:7077`, ...), stopped on exit.

    `conf` (e.g. `Settings.spark.session_conf()`) is applied before the JVM starts, so
    memory settings such as `spark.driver.memory` take effect; pyspark passes them to
    the `spark-submit` that launches it."""
    reason = spark_missing_reason()
    if reason:
        raise SparkUnavailable(reason)
    conf = conf or {}
    session = _builder(master, app_name, conf).getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    python = _worker_python(master, conf)
    if python:
        session.sparkContext.pythonExec = python  # this context's, not os.environ
    try:
        yield session
    finally:
        session.stop()


@contextmanager
def spark_session_for(master: str, app_name: str = "smartpay",
                      conf: dict[str, str] | None = None) -> Iterator[SparkSession]:
    """The caller's active session if this thread has one (left running: its owner stops
    it, and its configuration stands), else a new one on `master` with `conf`, stopped
    on exit. Feast's Spark offline store uses the active session, so pipeline steps
    that call Feast run inside this."""
    reason = spark_missing_reason()
    if reason:
        raise SparkUnavailable(reason)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    with spark_session(master, app_name, conf) as session:
        yield session
