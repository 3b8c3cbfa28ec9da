"""The served decision log round trip: payments through the API, each routed by its
own decision of the live VW router; the ledger keeps every decision with the outcome
of the attempt it routed; `smartpay decisions export` writes them as a decision log;
`smartpay train router --logs` learns from that file and registers a version."""

from __future__ import annotations

import json
import uuid

import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from pipelines.router.pipeline import TrainParams
from tests.serving.conftest import app_client, auth, pay_body

N = 60


def body(i: int) -> dict:  # every fourth card is refused (a hard decline)
    token = "pm_card_chargeCustomerFail" if i % 4 == 0 else "pm_card_visa"
    return pay_body(customer_id=i, amount_minor=1_000 + 37 * i,
                    payment_method={"type": "card", "token": token})


def test_served_decisions_export_to_a_log_that_train_router_learns_from(serving_env,
                                                                       tmp_path):
    with app_client() as c:
        views = [c.post("/pay", json=body(i), headers=auth(key=uuid.uuid4().hex)).json()
                 for i in range(N)]
        routed = c.post("/route", json={"amount_minor": 2_500, "currency": "USD",
                                        "payment_method_type": "card", "risk_score": 0.1},
                        headers=auth())
    assert routed.status_code == 200 and "record" not in routed.json()  # internal only
    status = {v["payment_id"]: v["status"] for v in views}
    assert sorted(set(status.values())) == ["captured", "declined"]

    out = tmp_path / "served.parquet"
    res = CliRunner().invoke(app, ["decisions", "export", "--out", str(out)])
    assert res.exit_code == 0, res.output
    log = pd.read_parquet(out)
    assert len(log) == N and set(log["transaction_id"]) == {v["payment_id"] for v in views}
    first = {v["payment_id"]: v["attempts"][0] for v in views}
    assert all(log["gateway"] == log["transaction_id"].map(lambda p: first[p]["gateway"]))
    assert (log["success"] == log["transaction_id"].map(status).eq("captured")).all()
    assert log["policy"].eq("fresh-vw").all()
    assert log["propensity"].between(0, 1, inclusive="right").all()
    picked = log.apply(lambda r: r[f"p__{r['gateway']}"], axis=1)
    assert (picked - log["propensity"]).abs().max() < 1e-12  # logged = served pmf
    assert len({tuple(r) for r in log[[c for c in log if c.startswith("p__")]].values}) > 1

    serving_env.setenv("SMARTPAY_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'r.db'}")
    res = CliRunner().invoke(app, ["train", "router", "--logs", str(out), "--json"])
    assert res.exit_code == 0, res.output
    trained = json.loads(res.output.strip().splitlines()[-1])
    held_out = N - int(N * TrainParams(logs=out).train_share)
    assert trained["version"] == "1" and trained["challenger"]["n"] == held_out


def test_export_names_a_bad_option_and_an_empty_window(serving_env, tmp_path):
    res = CliRunner().invoke(app, ["decisions", "export", "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "--out" in res.output
    res = CliRunner().invoke(app, ["decisions", "export", "--out", str(tmp_path / "x.parquet"),
                                   "--since", "yesterday"])
    assert res.exit_code == 2 and "--since" in res.output
    res = CliRunner().invoke(app, ["decisions", "export", "--out", str(tmp_path / "x.parquet"),
                                   "--since", "2100-01-01"])
    assert res.exit_code != 0 and "decisions" in str(res.exception or res.output)


def test_retrain_router_learns_from_the_served_window_and_gates(serving_env, tmp_path):
    serving_env.setenv("SMARTPAY_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'r.db'}")
    with app_client() as c:
        ids = {c.post("/pay", json=body(i), headers=auth(key=uuid.uuid4().hex)).json()[
            "payment_id"]
               for i in range(N)}
    res = CliRunner().invoke(app, ["retrain", "router", "--min-decisions", str(N + 1),
                                   "--json"])
    assert res.exit_code == 0, res.output
    skipped = json.loads(res.output.strip().splitlines()[-1])
    assert skipped["served"] == N and "fewer than --min-decisions" in skipped["skipped"]

    res = CliRunner().invoke(app, ["retrain", "router", "--window", "1h",
                                   "--min-decisions", str(N), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    log = pd.read_parquet(out["log"])
    assert set(log["transaction_id"]) == ids and out["served"] == N and out["extra"] == 0
    held_out = N - int(N * TrainParams(logs=None).train_share)
    assert out["version"] == "1" and out["challenger"]["n"] == held_out
    assert set(out["baselines"]) >= {"static_rule", "sliding_window_sr", "thompson"}


def test_retrain_router_names_bad_options(serving_env, tmp_path):
    for args, name in ((["--window", "soon"], "--window"), (["--every", "0h"], "--every"),
                       (["--min-decisions", "3"],
                       "--min-decisions"), (["--logs", str(tmp_path / "none.parquet")], "--logs")):
        res = CliRunner().invoke(app, ["retrain", "router", *args])
        assert res.exit_code == 2 and name in res.output, (args, res.output)
