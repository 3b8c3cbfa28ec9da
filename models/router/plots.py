"""Router figures: policies side by side, regret over time, the traffic split around an
outage, and off-policy estimates with their confidence intervals.

Each function returns a `matplotlib.figure.Figure` built outside pyplot: nothing here
picks a backend or fills pyplot's figure registry, so a notebook shows the figures
inline and `smartpay evaluate router` saves them to files alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.router.config import Outage
from models.router.ope import Estimate
from models.router.world import hours_since_start

_METRICS = (("auth_rate", "authorisation rate"), ("fee_per_success", "fee per success (USD)"),
            ("mean_latency_ms", "mean latency (ms)"))


def policies_side_by_side(metrics: pd.DataFrame) -> Figure:
    """Auth rate, fee and latency per policy (rows: policies, columns: policy_metrics)."""
    fig = Figure(figsize=(10, 0.35 * len(metrics) + 1.6), layout="tight")
    for ax, (col, label) in zip(fig.subplots(1, len(_METRICS), sharey=True), _METRICS):
        values = metrics[col].astype(float)
        ax.barh(metrics.index, values, color="tab:blue")
        span = values.max() - values.min()
        ax.set_xlim(max(values.min() - span - 1e-9, 0), values.max() + 0.2 * span + 1e-9)
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=8)
    return fig


def outage_windows(timestamps: pd.Series, outages: list[Outage]) -> list[tuple[int, int]]:
    """[start, end) indices of the time-ordered payments inside each configured outage
    window (a segment-only outage spans every payment of its window)."""
    hours = hours_since_start(pd.Series(timestamps).reset_index(drop=True))
    bounds = [np.searchsorted(hours, [o.start_hour, o.start_hour + o.duration_minutes / 60])
              for o in outages]
    return [(int(lo), int(hi)) for lo, hi in bounds if hi > lo]


def regret(curves: pd.DataFrame, outages: list[tuple[int, int]] = ()) -> Figure:
    """Cumulative regret against the oracle per policy; outage windows shaded."""
    fig = Figure(figsize=(8, 4.5), layout="tight")
    ax = fig.subplots()
    for name in curves.columns:
        ax.plot(curves.index, curves[name], label=name)
    for i, (lo, hi) in enumerate(outages):
        ax.axvspan(lo, hi, color="tab:red", alpha=0.15, label="outage" if i == 0 else None)
    ax.set(xlabel="payments", ylabel="cumulative regret (expected lost authorisations)",
           title="Gateway routing: regret vs the oracle that knows true success rates")
    ax.legend(fontsize=8)
    return fig


def traffic_split(timestamps: pd.Series, actions: dict[str, np.ndarray], gateways: list[str],
                  freq: str = "15min", start=None, end=None,
                  outages: list[tuple[int, int]] = ()) -> Figure:
    """Share of payments each policy sent to each gateway per time bin (stacked),
    between `start` and `end` when given; outage windows outlined."""
    ts = pd.to_datetime(pd.Series(timestamps)).reset_index(drop=True)
    lo = ts.min() if start is None else pd.Timestamp(start)
    hi = ts.max() if end is None else pd.Timestamp(end)
    keep = ts.between(lo, hi).to_numpy()
    fig = Figure(figsize=(9, 1.6 * len(actions) + 0.8), layout="tight")
    axes = np.atleast_1d(fig.subplots(len(actions), 1, sharex=True))
    for ax, (name, a) in zip(axes, actions.items()):
        share = _shares(ts[keep], np.asarray(a)[keep], gateways, freq)
        ax.stackplot(share.index, share.T.to_numpy(), labels=gateways, alpha=0.85)
        for a_lo, a_hi in outages:
            if ts[a_hi - 1] >= lo and ts[a_lo] <= hi:
                ax.axvspan(ts[a_lo], ts[a_hi - 1], fill=False, hatch="//", lw=0.8, ec="k")
        ax.set_ylim(0, 1)
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[0].set_title(f"Traffic split per {freq}" + (" (hatched: outage)" if outages else ""))
    return fig


def _shares(ts: pd.Series, action: np.ndarray, gateways: list[str], freq: str) -> pd.DataFrame:
    counts = pd.crosstab(ts.dt.floor(freq).to_numpy(), action)
    counts = counts.reindex(columns=range(len(gateways)), fill_value=0)
    counts.columns = gateways
    return counts.div(counts.sum(axis=1), axis=0)


def ope_intervals(estimates: dict[str, dict[str, Estimate]], truth: dict[str, float] | None = None) -> Figure:
    """Each estimator's value and 95 % interval per target policy; the true value if known."""
    fig = Figure(figsize=(7, 0.5 * sum(map(len, estimates.values())) + 1.2), layout="tight")
    ax = fig.subplots()
    labels, y = [], 0
    for policy, by_estimator in estimates.items():
        for estimator, e in by_estimator.items():
            ax.errorbar(e.value, y, xerr=[[e.value - e.lo], [e.hi - e.value]], fmt="o", capsize=3,
                        color="tab:blue")
            labels.append(f"{policy} · {estimator}")
            y += 1
        if truth and policy in truth:
            ax.vlines(truth[policy], y - len(by_estimator) - 0.4, y - 0.6, colors="k",
                      linestyles="--", lw=1, label="true value" if y == len(by_estimator) else None)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel="estimated authorisation rate (95 % CI)", title="Off-policy evaluation")
    if truth:
        ax.legend(fontsize=8)
    return fig
