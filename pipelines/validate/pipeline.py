"""Run suites with Great Expectations and save the full reports (JSON and HTML)."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.io import read_table
from pipelines.validate import suites
from smartpay.settings import Settings


@dataclass
class SuiteReport:
    """The outcome of one suite on one table."""

    suite: str
    success: bool
    rows: int
    failures: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    def summary_line(self) -> str:
        """'ok, 17 expectations on 1,000 rows' or the failure count."""
        n = len(self.results)
        if self.success:
            return f"ok, {n} expectations on {self.rows:,} rows"
        return f"FAILED {len(self.failures)} of {n} expectations on {self.rows:,} rows"

    def failure_lines(self) -> list[str]:
        """One line per failed expectation: which, on what column, on how many rows."""
        return [
            f"{f['expectation']}({f.get('column') or ''}): "
            + (f"{f['unexpected_count']:,} of {self.rows:,} rows unexpected"
               if f.get("unexpected_count") is not None
               else f"observed {f.get('observed_value')!r}")
            for f in self.failures
        ]


def run_suite(name: str, df: pd.DataFrame, specs: list[suites.Spec]) -> SuiteReport:
    """Validate `df` against `specs` with an ephemeral GX context."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas(f"src_{name}").add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": df})
    suite = gx.ExpectationSuite(name=name)
    for cls, kwargs in specs:
        suite.add_expectation(getattr(gxe, cls)(**kwargs))
    outcome = batch.validate(suite, result_format="BASIC")
    return _report(name, len(df), outcome)


def _report(name: str, rows: int, outcome) -> SuiteReport:
    results = []
    for r in outcome.results:
        cfg = r.expectation_config
        res = r.result or {}
        results.append({
            "expectation": cfg.type, "column": cfg.kwargs.get("column"),
            "success": bool(r.success), "unexpected_count": res.get("unexpected_count"),
            "observed_value": _plain(res.get("observed_value")),
        })
    failures = [r for r in results if not r["success"]]
    return SuiteReport(name, bool(outcome.success), rows, failures, results)


def _plain(value):
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


def save_report(report: SuiteReport, folder: Path) -> None:
    """Write <suite>.json and <suite>.html under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"suite": report.suite, "success": report.success, "rows": report.rows,
               "results": report.results}
    (folder / f"{report.suite}.json").write_text(json.dumps(payload, indent=2, default=str))
    rows = "".join(
        f"<tr class={'ok' if r['success'] else 'bad'}><td>{html.escape(r['expectation'])}</td>"
        f"<td>{html.escape(str(r['column'] or ''))}</td><td>{r['success']}</td>"
        f"<td>{r['unexpected_count'] if r['unexpected_count'] is not None else ''}</td>"
        f"<td>{html.escape(str(r['observed_value'] if r['observed_value'] is not None else ''))}</td></tr>"
        for r in report.results)
    (folder / f"{report.suite}.html").write_text(
        "<html><head><style>.bad{background:#fdd}.ok{background:#efe}td{padding:2px 8px}"
        f"</style></head><body><h1>{html.escape(report.suite)}</h1><p>{report.summary_line()}</p>"
        "<table><tr><th>expectation</th><th>column</th><th>success</th><th>unexpected rows</th>"
        f"<th>observed</th></tr>{rows}</table></body></html>")


def reports_dir(settings: Settings) -> Path:
    """Where validation reports are saved."""
    return settings.path("reports", "validation")


def validate_transactions(df: pd.DataFrame, settings: Settings) -> SuiteReport:
    """The raw-transactions suite, report saved."""
    report = run_suite("transactions", df, suites.transactions())
    save_report(report, reports_dir(settings))
    return report


def validate_feature_tables(tables: dict[str, pd.DataFrame], settings: Settings) -> list[SuiteReport]:
    """Every feature table's suite, reports saved."""
    out = []
    for name, df in tables.items():
        report = run_suite(name, df, suites.FEATURE_SUITES[name]())
        save_report(report, reports_dir(settings))
        out.append(report)
    return out


def validate_all(settings: Settings, raw_path: Path, include_features: bool = True) -> list[SuiteReport]:
    """Raw transactions, then the feature tables already built (if any)."""
    from features.store import tables_dir

    reports = [validate_transactions(read_table(raw_path), settings)]
    if include_features:
        tables = {n: read_table(p) for n in suites.FEATURE_SUITES
                  if (p := tables_dir(settings) / f"{n}.parquet").exists()}
        reports += validate_feature_tables(tables, settings)
    return reports
