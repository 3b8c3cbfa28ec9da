"""`smartpay train|promote|retrain fraud` and `smartpay ui`: the fraud model lifecycle."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli import evaluate_cmds, promote_cmds, score_cmds, train_cmds
from cli._ui import console, spinner
from smartpay.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add the fraud commands to the shared groups and `ui` to the root app."""
    train_cmds.app.command("fraud")(train_fraud)
    promote_cmds.app.command("fraud")(promote_fraud)
    promote_cmds.retrain_app.command("fraud")(retrain_fraud)
    evaluate_cmds.app.command("fraud")(evaluate_fraud)
    score_cmds.app.command("fraud")(score_fraud)
    app.command("ui")(ui)


def _progress_to_stderr() -> None:
    """Show per-model and per-trial progress lines on stderr (stdout stays the report)."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    for name in ("models.fraud", "pipelines.fraud"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)


def _config(trials: int, seed: int, review_fp: float, decline_fp: float):
    from models.fraud.thresholds import FpBudget
    from models.fraud.train import TrainConfig

    return TrainConfig(n_trials=trials, seed=seed,
                       budget=FpBudget(review_fp_rate=review_fp, decline_fp_rate=decline_fp))


def _print_outcome(out, json_out: bool) -> None:
    from pipelines.fraud.nodes import comparison_rows

    console.print(f"{'model':<22}{'AUC':>8}{'AP':>8}{'CP@100':>8}")
    for name, auc, ap, cp in comparison_rows(out.metrics):
        console.print(f"{name:<22}{auc:>8}{ap:>8}{cp:>8}")
    verdict = "promoted" if out.decision.promote else "not promoted"
    console.print(f"registered fraud-detector v{out.version} ({verdict}); "
                  f"champion = v{out.champion}; {out.rows:,} rows, "
                  f"{out.seconds.get('total', 0):.0f} s")
    for reason in out.decision.reasons:
        console.print(f"  - {reason}")
    if out.report:
        _print_table_report(out.report)
    if json_out:
        print(json.dumps({"models": out.metrics, "champion": out.champion,
                          **({"report": out.report} if out.report else {})}))


def _print_table_report(report: dict) -> None:
    from pipelines.fraud.nodes import interval_rows

    split = report["split"]
    console.print(f"time-ordered split: train up to {split['train_last']}, test from "
                  f"{split['test_first']} (delay {split['delay_s']:.0f} s); test part "
                  f"{report['test_rows']:,} rows with {report['test_positives']:,} "
                  f"positives; tuned AP interval width {report['ap_interval_width']} "
                  f"(95 %, by {report['resampled_by']})")
    for row in interval_rows(report):
        console.print(row)


def train_fraud(
    table: Path = typer.Option(None, help="Bring-your-own parquet/CSV table."),
    label: str = typer.Option(None, help="Label column of --table (0/1)."),
    time_col: str = typer.Option(None, "--time", help="Time column of --table."),
    id_col: str = typer.Option(None, "--id", help="Card/entity column of --table (CP@100)."),
    test_fraction: float = typer.Option(0.2, help="Latest share of --table that tests."),
    delay: str = typer.Option("0", help="Label delay of --table: training stops this "
                              "long before the test part (e.g. 7d, 12h, 0)."),
    trials: int = typer.Option(20, help="Optuna trials for the tuned XGBoost."),
    seed: int = typer.Option(0, help="Random seed of models and search."),
    review_fp: float = typer.Option(0.01, help="False-positive budget of 'review'."),
    decline_fp: float = typer.Option(0.001, help="False-positive budget of 'decline'."),
    tolerance: float = typer.Option(0.01, help="AP the challenger may lose and pass."),
    json_out: bool = typer.Option(False, "--json", help="Last line: metrics as JSON."),
    engine: str = typer.Option(None, help="pandas (one process) or spark "
                               "(xgboost.spark, 2 workers); default: the profile's."),
    master: str = typer.Option(None, help="Spark master URL (default "
                               "SMARTPAY_SPARK_MASTER, else local[2])."),
) -> None:
    """Train baselines and a tuned XGBoost, register it, gate it against the champion."""
    from pipelines.fraud import nodes, pipeline as fp
    from smartpay.errors import InputError

    _progress_to_stderr()
    cfg = _config(trials, seed, review_fp, decline_fp)
    settings = get_settings()
    # A bring-your-own table is one process's job: the profile's engine applies to
    # the reference features; `--engine spark` with --table is refused.
    engine = _engine(engine or ("pandas" if table is not None else None), settings)
    if engine == "spark":
        if table is not None:
            raise InputError("--table", str(table), "no --table with --engine spark "
                             "(the Spark path trains on the fraud_model_v1 features)")
        url = master or settings.spark_master
        with spinner(f"Training the tuned XGBoost on Spark ({url})"):
            out = fp.train_reference_spark(settings, cfg, tolerance=tolerance,
                                           master=master)
    elif table is not None:
        for name, value in (("--label", label), ("--time", time_col)):
            if not value:
                raise InputError(name, value, "a column name when --table is given")
        if not 0 < test_fraction < 1:
            raise InputError("--test-fraction", test_fraction, "a number between 0 and 1")
        spec = fp.TableSpec(Path(table), label, time_col, id_col, test_fraction,
                            nodes.parse_delay(delay))
        with spinner(f"Training on {table}"):
            out = fp.train_table(settings, spec, cfg, tolerance)
    else:
        with spinner("Training fraud models on the fraud_model_v1 features"):
            out = fp.train_reference(settings, cfg, tolerance=tolerance)
    _print_outcome(out, json_out)


def score_fraud(
    table: Path = typer.Option(..., help="Parquet table (file or folder) with the "
                               "model's feature columns and ids."),
    out: Path = typer.Option(..., help="Where to write ids, score and decision "
                             "(parquet; a folder of parts with --engine spark)."),
    engine: str = typer.Option(None, help="pandas (in this process) or spark "
                               "(mlflow.pyfunc.spark_udf); default: the profile's."),
    ref: str = typer.Option("champion", help="Alias or version number to score with."),
    master: str = typer.Option(None, help="Spark master URL (default "
                               "SMARTPAY_SPARK_MASTER, else local[2])."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score every row of a table with fraud-detector@champion: ids, score, decision."""
    from pipelines.fraud.scoring import score_table

    settings = get_settings()
    summary = score_table(settings, table, out, _engine(engine, settings), ref, master)
    if json_out:
        print(json.dumps(summary))
        return
    console.print(f"scored {summary['rows']:,} rows with fraud-detector "
                  f"v{summary['version']} on {summary['engine']} -> {summary['out']}")


def _engine(engine: str | None, settings) -> str:
    """--engine, else the profile's engine; anything but pandas/spark names the flag."""
    from smartpay.errors import InputError

    engine = engine or settings.data_engine
    if engine not in ("pandas", "spark"):
        raise InputError("--engine", engine, "pandas or spark")
    return engine


def _seeds(text: str) -> list[int]:
    """'1,2,3' -> [1, 2, 3]; anything else names --seeds."""
    from smartpay.errors import InputError

    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError("--seeds", text,
                         "distinct integers separated by commas, e.g. 1,2,3")
    return seeds


def evaluate_fraud(
    weeks: int = typer.Option(4, help="Consecutive test weeks per world (>= 1)."),
    seeds: str = typer.Option("1,2,3", help="Simulation seeds, one world each."),
    trials: int = typer.Option(20, help="Optuna trials of the search (one per world)."),
    boot: int = typer.Option(1000, help="Card bootstrap resamples (>= 100)."),
    folds: int = typer.Option(4, help="Prequential validation folds of the search."),
    customers: int = typer.Option(5_000, help="Customers of each simulated world."),
    terminals: int = typer.Option(10_000, help="Terminals of each simulated world."),
    days: int = typer.Option(183, help="Days of each simulated world."),
    early_outcomes: bool = typer.Option(
        False, "--early-outcomes", help="Also evaluate the tuned XGBoost with early "
        "outcomes as terminal features: review verdicts, assumed issuer fraud reports, "
        "and both (experiment)."),
    issuer_share: float = typer.Option(
        0.5, help="Assumed share of frauds their issuer reports (--early-outcomes)."),
    issuer_min_delay: float = typer.Option(
        1.0, help="Shortest issuer report delay in days (uniform draw)."),
    issuer_max_delay: float = typer.Option(
        5.0, help="Longest issuer report delay in days (uniform draw)."),
    json_out: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
) -> None:
    """Every model over several test weeks and seeds, 95 % intervals by card, paired
    differences of the tuned XGBoost against each baseline; logged to MLflow."""
    from smartpay.errors import InputError

    for name, value, low in (("--weeks", weeks, 1), ("--trials", trials, 1),
                             ("--boot", boot, 100), ("--folds", folds, 1),
                             ("--customers", customers, 1), ("--terminals", terminals, 1),
                             ("--days", days, 1)):
        if value < low:
            raise InputError(name, value, f"an integer >= {low}")
    seed_list = _seeds(seeds)
    issuer = _issuer(issuer_share, issuer_min_delay, issuer_max_delay)
    from models.fraud.protocol import Windows
    from pipelines.fraud import evaluation as ev

    _progress_to_stderr()
    cfg = _config(trials, seed_list[0], 0.01, 0.001)
    spec = ev.EvaluationSpec(seeds=seed_list, weeks=weeks, n_boot=boot, cfg=cfg,
                             windows=Windows(n_folds=folds),
                             sim_kwargs={"customers": customers, "terminals": terminals,
                                         "days": days}, early_outcomes=early_outcomes,
                             issuer=issuer)
    with spinner(f"Evaluating {len(seed_list)} worlds x {weeks} test weeks"):
        report = ev.evaluate(get_settings(), spec)
    if json_out:
        print(json.dumps(report))
        return
    _print_report(report)


def _issuer(share: float, min_delay: float, max_delay: float):
    """The assumed issuer report stream; a bad value names its flag."""
    from pipelines.fraud.issuer_reports import IssuerReports
    from smartpay.errors import InputError

    if not 0 <= share <= 1:
        raise InputError("--issuer-share", share, "a share between 0 and 1")
    if min_delay < 0:
        raise InputError("--issuer-min-delay", min_delay, "days >= 0")
    if max_delay < min_delay:
        raise InputError("--issuer-max-delay", max_delay,
                         f"days >= --issuer-min-delay ({min_delay})")
    return IssuerReports(share=share, min_delay_days=min_delay,
                         max_delay_days=max_delay)


def _print_report(report: dict) -> None:
    from pipelines.fraud.nodes import interval_rows

    pooled = report["pooled"]
    console.print(f"pooled over {pooled['sets']} test weeks ({pooled['positives']:,} "
                  f"frauds in {pooled['rows']:,} rows), 95 % intervals by card:")
    for row in interval_rows(pooled):
        console.print(row)
    for model, spot in pooled["blind_spot"].items():
        first = _ci_text(spot, "recall_first_week")
        console.print(f"blind spot, {model}: recall {first}"
                      f" on {spot['first_week_frauds']:,} first-week frauds, "
                      f"{_ci_text(spot, 'recall_other')} on the others")
    console.print(f"MLflow run {report['run_id']} (experiment fraud-evaluation)")


def _ci_text(spot: dict, key: str) -> str:
    lo, hi = spot[f"{key}_ci"]
    if spot[key] is None or lo is None:
        return "-"
    return f"{spot[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def promote_fraud(
    tolerance: float = typer.Option(0.01, help="AP the challenger may lose and pass."),
    json_out: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
    to: str = typer.Option(None, "--to", help="Environment to promote to (staging, "
                           "prod); without it, gate the challenger against the champion."),
    approved_by: str = typer.Option(None, help="Who approves (required --to prod)."),
    reason: str = typer.Option(None, help="Why it is approved (required --to prod)."),
    check: bool = typer.Option(False, "--check", help="Only report the gate's verdict; "
                               "move nothing."),
    report: Path = typer.Option(None, "--report", help="With --check: also write the "
                                "verdict as JSON here ({'promote': bool, ...})."),
) -> None:
    """Apply the gate to fraud-detector@challenger; promote it if it passes. With
    --to, move the version an environment takes (staging, prod) by alias."""
    from pipelines.fraud import pipeline as fp

    if check:
        version, decision = fp.check(get_settings(), tolerance)
        verdict = {"version": version, **decision.model_dump()}
        if report is not None:
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps(verdict))
        if json_out:
            print(json.dumps(verdict))
        else:
            console.print(f"fraud-detector v{version}: the gate would "
                          f"{'promote' if decision.promote else 'refuse'} it")
        return

    if to is not None:
        from models.fraud.registry import connect

        promote_cmds.promote_between_envs(connect(get_settings()), to, approved_by,
                                          reason, json_out)
        return

    version, decision = fp.promote(get_settings(), tolerance)
    if json_out:
        print(json.dumps({"version": version, **decision.model_dump()}))
        return
    verdict = "[green]promoted[/]" if decision.promote else "[yellow]not promoted[/]"
    if decision.challenger_ap is None and not decision.checks:
        verdict = "unchanged"
    console.print(f"fraud-detector v{version}: {verdict}")
    for reason in decision.reasons:
        console.print(f"  - {reason}")


def retrain_fraud(
    every: str = typer.Option(None, help="Repeat forever at this interval, e.g. 24h."),
    trials: int = typer.Option(20, help="Optuna trials for the tuned XGBoost."),
    seed: int = typer.Option(0, help="Random seed of models and search."),
    tolerance: float = typer.Option(0.01, help="AP the challenger may lose and pass."),
    json_out: bool = typer.Option(False, "--json", help="Last line: metrics as JSON."),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="--no-gate: register the "
                              "challenger only (a pipeline's own step gates it)."),
) -> None:
    """Newest window: drift report, challenger, gate. Safe to run from cron."""
    from pipelines.fraud import nodes, pipeline as fp

    _progress_to_stderr()
    cfg = _config(trials, seed, 0.01, 0.001)

    def once() -> None:
        out = fp.retrain(get_settings(), cfg, tolerance=tolerance, gate=gate)
        if out.drift:
            shifted = {k: v for k, v in out.drift["psi"].items() if v["status"] != "stable"}
            console.print(f"drift vs champion v{out.drift['champion']}: "
                          f"{len(shifted)} of {len(out.drift['psi'])} columns shifted "
                          f"{sorted(shifted)}")
        _print_outcome(out, json_out)

    if every is None:
        once()
        return
    fp.every(nodes.parse_interval(every), once)


def ui(
    port: int = typer.Option(5000, help="Port of the MLflow UI (127.0.0.1)."),
) -> None:
    """Start the MLflow UI on the embedded tracking store (the experiment dashboard)."""
    import os
    import sys

    settings = get_settings()
    settings.path("mlflow").mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri",
            settings.tracking_uri, "--host", "127.0.0.1", "--port", str(port)]
    if not settings.mlflow_tracking_uri:
        argv += ["--default-artifact-root", settings.path("mlflow", "artifacts").as_uri()]
    console.print(f"MLflow UI on http://127.0.0.1:{port} ({settings.tracking_uri})")
    os.execv(sys.executable, argv)
