"""Router figures are plain Figure objects: drawn without pyplot, saved by their caller."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.router import plots
from models.router.config import Outage
from models.router.ope import Estimate
from tests.conftest import REPO

NAMES = ["a", "b", "c"]


def _all_figures() -> list[Figure]:
    ts = pd.Series(pd.date_range("2024-01-01", periods=120, freq="min"))
    outages = [(40, 60)]
    curves = pd.DataFrame({"x": np.arange(120.0), "y": np.arange(120.0) / 2})
    metrics = pd.DataFrame({"auth_rate": [0.9, 0.92], "fee_per_success": [1.0, 1.2],
                            "mean_latency_ms": [400.0, 350.0]}, index=["x", "y"])
    est = {"x": {"IPS": Estimate(0.9, 0.85, 0.95, 100), "DR": Estimate(0.91, 0.89, 0.93, 100)}}
    actions = {"x": np.arange(120) % 3, "y": np.zeros(120, int)}
    return [plots.policies_side_by_side(metrics), plots.regret(curves, outages),
            plots.traffic_split(ts, actions, NAMES, "15min", ts[10], ts[100], outages),
            plots.ope_intervals(est, {"x": 0.9})]


def test_router_figures_draw_to_png_without_entering_pyplots_registry(tmp_path):
    before = plt.get_fignums()
    for i, fig in enumerate(_all_figures()):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(tmp_path / f"{i}.png", dpi=60)
        assert (tmp_path / f"{i}.png").stat().st_size > 2_000
    assert plt.get_fignums() == before


def test_outage_windows_cover_every_payment_of_each_window_the_run_reaches():
    ts = pd.Series(pd.date_range("2024-01-01", periods=48, freq="h"))
    cfg = [Outage(gateway="a", start_hour=5, duration_minutes=120),
           Outage(gateway="b", start_hour=30, duration_minutes=30, segment={"issuing_country": "DE"}),
           Outage(gateway="c", start_hour=100, duration_minutes=60)]
    assert plots.outage_windows(ts, cfg) == [(5, 7), (30, 31)]


def test_importing_the_plot_modules_leaves_the_callers_matplotlib_backend_alone():
    code = ("import matplotlib; matplotlib.use('pdf'); "
            "import models.fraud.plots, models.router.plots; "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip() == "pdf"
