"""Evaluation figures logged with every run: PR, ROC, importance, score by class.

Each function returns a `matplotlib.figure.Figure` built outside pyplot: importing or
calling this module never picks a backend or fills pyplot's figure registry, so a
notebook shows the figures inline and a training run saves them to files alike.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve


def _thin(*arrays: np.ndarray, n: int = 400) -> list[np.ndarray]:
    """Keep about n evenly spaced points of a curve (a picture needs no more)."""
    idx = np.unique(np.linspace(0, len(arrays[0]) - 1, n).astype(int))
    return [a[idx] for a in arrays]


def pr_curve(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """Precision-recall curve of each model on the test window."""
    fig = Figure(figsize=(5, 4), layout="tight")
    ax = fig.subplots()
    for name, s in curves.items():
        p, r, _ = precision_recall_curve(y, s)
        r, p = _thin(r, p)
        ax.plot(r, p, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax.legend(fontsize=7)
    return fig


def roc(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """ROC curve of each model on the test window."""
    fig = Figure(figsize=(5, 4), layout="tight")
    ax = fig.subplots()
    for name, s in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        fpr, tpr = _thin(fpr, tpr)
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    ax.legend(fontsize=7)
    return fig


def importance(booster: xgb.Booster) -> Figure:
    """Total gain per feature of the tuned booster."""
    gain = booster.get_score(importance_type="total_gain")
    names = sorted(gain, key=gain.get)
    fig = Figure(figsize=(5, 0.3 * max(len(names), 4) + 1), layout="tight")
    ax = fig.subplots()
    ax.barh(names, [gain[n] for n in names])
    ax.set(xlabel="total gain", title="Feature importance")
    return fig


def score_by_class(y: np.ndarray, scores: np.ndarray, thresholds: dict[str, float]) -> Figure:
    """Score histograms of genuine and fraudulent test transactions with thresholds."""
    fig = Figure(figsize=(5, 4), layout="tight")
    ax = fig.subplots()
    bins = np.linspace(0, 1, 51)
    ax.hist(scores[y == 0], bins, alpha=0.6, density=True, label="genuine")
    ax.hist(scores[y == 1], bins, alpha=0.6, density=True, label="fraud")
    for name, t in thresholds.items():
        ax.axvline(t, ls="--", lw=0.8, color="k")
        ax.text(t, ax.get_ylim()[1] * 0.9, name, fontsize=7, rotation=90)
    ax.set(yscale="log", xlabel="risk score", title="Score distribution by class (test)")
    ax.legend(fontsize=7)
    return fig


def close(fig: Figure) -> None:
    """Free a figure's artists once logged (no pyplot registry holds it)."""
    fig.clear()
