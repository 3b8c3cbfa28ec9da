"""Wiring of the feature pipeline: build -> (validate) -> write; apply; materialize."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.store import (definitions, offline_on_spark, open_store, source_path,
                            tables_dir, use_wal)
from pipelines.features import nodes
from pipelines.io import PARQUET_OPTIONS, check_writable, read_table, replace_path
from smartpay.errors import ValidationFailed
from smartpay.settings import Engine, Settings

TABLES = ("customer_spending", "terminal_risk", "card_profile")
RAW_COLUMNS = ["transaction_id", "timestamp", "customer_id", "terminal_id", "card_id",
               "amount_minor", "card_network", "issuing_country", "is_fraud"]


@dataclass
class BuildResult:
    """What `features build` wrote."""

    rows: dict[str, int] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)


def compute_tables(tx: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """All offline feature tables from raw transactions (pure)."""
    return {
        "customer_spending": nodes.customer_spending(tx),
        "terminal_risk": nodes.terminal_risk(tx),
        "card_profile": nodes.card_profile(tx),
    }


def build(settings: Settings, raw_path: Path, validate: bool = True,
          engine: Engine | None = None) -> BuildResult:
    """Compute, validate, then write every table; on any failure nothing is replaced.

    `engine` (default `settings.data_engine`): pandas in this process, or Spark at
    `settings.spark_master` (`pipeline_spark`), which writes the same tables.
    """
    if (engine or settings.data_engine) == "spark":
        from pipelines.features import pipeline_spark
        from smartpay.spark import spark_session_for

        with spark_session_for(settings.spark_master, "smartpay-features",
                               settings.spark.session_conf()) as spark:
            return pipeline_spark.build(spark, settings, raw_path, RAW_COLUMNS,
                                        validate)
    tx = read_table(raw_path, columns=RAW_COLUMNS)
    tables = compute_tables(tx)
    if validate:
        from pipelines.validate.pipeline import validate_feature_tables

        reports = validate_feature_tables(tables, settings)
        bad = [r for r in reports if not r.success]
        if bad:
            raise ValidationFailed("; ".join(f"{r.suite}: {r.summary_line()}" for r in bad))
    return _write_all(tables, tables_dir(settings))


def _write_all(tables: dict[str, pd.DataFrame], folder: Path) -> BuildResult:
    """Write every table to a temporary file first, then rename them all."""
    result = BuildResult()
    staged = []
    try:
        for name, df in tables.items():
            final = folder / f"{name}.parquet"
            tmp = final.with_suffix(".parquet.tmp")
            check_writable(tmp)
            df.to_parquet(tmp, index=False, **PARQUET_OPTIONS)
            staged.append((tmp, final))
            result.rows[name], result.paths[name] = len(df), final
        for tmp, final in staged:
            replace_path(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return result


def apply(settings: Settings, project: str | None = None) -> list[str]:
    """Register every definition in the profile's registry; returns the object names."""
    store = open_store(settings, project)
    objects = definitions(settings)
    store.apply(objects)
    return [o.name for o in objects]


def materialize(settings: Settings, project: str | None = None) -> dict[str, int]:
    """Load the latest value of every entity into the online store (through Spark at
    `settings.spark_master` when the profile's offline store is Spark)."""
    store = open_store(settings, project)
    bounds = _time_bounds(settings)
    views = _views_with_data(settings)
    if offline_on_spark(settings):
        from smartpay.spark import spark_session_for

        with spark_session_for(settings.spark_master, "smartpay-materialize",
                               settings.spark.session_conf()):
            store.materialize(start_date=bounds[0], end_date=bounds[1],
                              feature_views=views)
    else:
        store.materialize(start_date=bounds[0], end_date=bounds[1], feature_views=views)
    use_wal(settings)
    return {
        name: int(read_table(tables_dir(settings) / f"{name}.parquet",
                             [key]).nunique().iloc[0])
        for name, key in (("customer_spending", "customer_id"),
                          ("terminal_risk", "terminal_id"), ("card_profile", "card_id"))
    }


def seed_fresh(settings: Settings, raw_path: Path, project: str | None = None) -> int:
    """Start the fresh fraud features from raw transactions: load into the event log
    the payments each customer's and terminal's windows can still reach (back from
    its newest transaction), and push every entity's windows as of the second after
    its newest transaction (what live pushes keep up to date from then on). Returns
    how many (entity, payment) rows were logged."""
    from features.event_log import seed
    from features.fresh import (CUSTOMER_PUSH, RETENTION_S, TERMINAL_PUSH, views_of,
                                write_rows)
    from features.windows import WINDOWS_DAYS, customer_columns, terminal_columns

    tx = read_table(raw_path, columns=RAW_COLUMNS)
    logged = []
    for kind, key in (("customer", "customer_id"), ("terminal", "terminal_id")):
        reach = pd.Timedelta(seconds=RETENTION_S[kind])
        newest = tx.groupby(key)["timestamp"].transform("max")
        logged += nodes.fresh_event_rows(tx[tx["timestamp"] >= newest - reach], kind)
    seed(settings, logged)
    customers, terminals = nodes.latest_windows(tx)
    store = open_store(settings, project)
    cust_cols = [c for w in WINDOWS_DAYS for c in customer_columns(w)]
    term_cols = [terminal_columns(w)[0] for w in WINDOWS_DAYS]
    for source, df, cols in ((CUSTOMER_PUSH, customers, ["customer_id", *cust_cols]),
                             (TERMINAL_PUSH, terminals, ["terminal_id", *term_cols])):
        rows = df[[*cols, "event_timestamp"]].assign(
            event_timestamp=df["event_timestamp"].dt.tz_localize("UTC"))
        write_rows(store, views_of(store, source), rows.to_dict("records"))
    return len(logged)


def _views_with_data(settings: Settings) -> list[str]:
    """Views whose offline table exists: a view fed by a later stage (the router's
    gateway statistics) is materialized by that stage, not before it has data."""
    from feast import FeatureView

    return [o.name for o in definitions(settings)
            if isinstance(o, FeatureView) and o.batch_source is not None
            and Path(source_path(o.batch_source)).exists()]


def _time_bounds(settings: Settings) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The earliest and latest event time across the offline tables (UTC)."""
    lo, hi = [], []
    for name in TABLES:
        ts = read_table(tables_dir(settings) / f"{name}.parquet", ["event_timestamp"])
        lo.append(ts["event_timestamp"].min())
        hi.append(ts["event_timestamp"].max())
    start = (min(lo) - pd.Timedelta(seconds=1)).tz_localize("UTC")
    end = (max(hi) + pd.Timedelta(seconds=1)).tz_localize("UTC")
    return start.to_pydatetime(), end.to_pydatetime()
