"""Router figures are plain Figure objects: drawn without pyplot, saved by their caller."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.router import plots
from models.router.ope import Estimate
from tests.conftest import REPO

NAMES = ["a", "b", "c"]


def _all_figures() -> list[Figure]:
    ts = pd.Series(pd.date_range("2024-01-01", periods=120, freq="min"))
    outage = np.zeros((120, 3), bool)
    outage[40:60, 1] = True
    curves = pd.DataFrame({"x": np.arange(120.0), "y": np.arange(120.0) / 2})
    metrics = pd.DataFrame({"auth_rate": [0.9, 0.92], "fee_per_success": [1.0, 1.2],
                            "mean_latency_ms": [400.0, 350.0]}, index=["x", "y"])
    est = {"x": {"IPS": Estimate(0.9, 0.85, 0.95, 100), "DR": Estimate(0.91, 0.89, 0.93, 100)}}
    actions = {"x": np.arange(120) % 3, "y": np.zeros(120, int)}
    return [plots.policies_side_by_side(metrics), plots.regret(curves, outage),
            plots.traffic_split(ts, actions, NAMES, "15min", ts[10], ts[100], outage),
            plots.ope_intervals(est, {"x": 0.9})]


def test_router_figures_draw_to_png_without_entering_pyplots_registry(tmp_path):
    before = plt.get_fignums()
    for i, fig in enumerate(_all_figures()):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(tmp_path / f"{i}.png", dpi=60)
        assert (tmp_path / f"{i}.png").stat().st_size > 2_000
    assert plt.get_fignums() == before


def test_outage_spans_are_the_runs_of_payments_any_gateway_outage_hits():
    hit = np.zeros((10, 2), bool)
    hit[2:4, 0], hit[3:5, 1], hit[9, 0] = True, True, True
    assert plots.outage_spans(hit) == [(2, 5), (9, 10)]
    assert plots.outage_spans(np.zeros(4, bool)) == []


def test_importing_the_plot_modules_leaves_the_callers_matplotlib_backend_alone():
    code = ("import matplotlib; matplotlib.use('pdf'); "
            "import models.fraud.plots, models.router.plots; "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip() == "pdf"
