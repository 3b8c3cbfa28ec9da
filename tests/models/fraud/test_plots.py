"""Fraud evaluation figures are plain Figure objects: drawn without pyplot, saved by
their caller (MLflow in training, the inline display in a notebook)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import xgboost as xgb
from matplotlib.figure import Figure

from models.fraud import plots


def test_fraud_figures_draw_to_png_without_entering_pyplots_registry(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.2).astype(int)
    scores = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(rng.random((200, 3)), label=y,
                                                      feature_names=["f0", "f1", "f2"]), 3)
    before = plt.get_fignums()
    figures = [plots.pr_curve(y, {"m": scores}), plots.roc(y, {"m": scores}),
               plots.importance(booster), plots.score_by_class(y, scores, {"review": 0.5})]
    for i, fig in enumerate(figures):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(tmp_path / f"{i}.png", dpi=60)
        assert (tmp_path / f"{i}.png").stat().st_size > 2_000
        plots.close(fig)
    assert plt.get_fignums() == before
