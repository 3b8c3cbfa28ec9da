"""Evaluation figures logged with every run: PR, ROC, importance, score by class."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402


def _thin(*arrays: np.ndarray, n: int = 400) -> list[np.ndarray]:
    """Keep about n evenly spaced points of a curve (a picture needs no more)."""
    idx = np.unique(np.linspace(0, len(arrays[0]) - 1, n).astype(int))
    return [a[idx] for a in arrays]


def pr_curve(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """Precision-recall curve of each model on the test window."""
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, s in curves.items():
        p, r, _ = precision_recall_curve(y, s)
        r, p = _thin(r, p)
        ax.plot(r, p, label=name)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    ax.legend(fontsize=7)
    return fig


def roc(y: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """ROC curve of each model on the test window."""
    fig, ax = plt.subplots(figsize=(5, 4))
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
    fig, ax = plt.subplots(figsize=(5, 0.3 * max(len(names), 4) + 1))
    ax.barh(names, [gain[n] for n in names])
    ax.set(xlabel="total gain", title="Feature importance")
    fig.tight_layout()
    return fig


def score_by_class(y: np.ndarray, scores: np.ndarray, thresholds: dict[str, float]) -> Figure:
    """Score histograms of genuine and fraudulent test transactions with thresholds."""
    fig, ax = plt.subplots(figsize=(5, 4))
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
    """Free a figure's memory once logged."""
    plt.close(fig)
