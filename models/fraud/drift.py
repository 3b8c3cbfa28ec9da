"""Population stability index (PSI) of features and scores versus a reference window.

The reference profile (decile bin edges and bin shares of each feature and of the
model's scores on its training data) is stored with the model, so a later run can
measure drift without reloading the old data. Rule of thumb: PSI < 0.1 stable,
0.1-0.25 moderate shift, above 0.25 significant shift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPS = 1e-4


def bin_edges(values: np.ndarray, bins: int = 10) -> list[float]:
    """Inner quantile edges of the reference values (duplicates merged)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return []
    qs = np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1])
    return sorted(set(float(q) for q in qs))


def shares(values: np.ndarray, edges: list[float]) -> list[float]:
    """Share of values per bin (right-closed), plus a last bin for missing values."""
    v = np.asarray(values, dtype=float)
    nan = np.isnan(v)
    idx = np.searchsorted(np.asarray(edges), v[~nan], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    counts = np.append(counts, nan.sum())
    return (counts / max(len(v), 1)).tolist()


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index between two bin-share vectors."""
    e = np.clip(np.asarray(expected), EPS, None)
    a = np.clip(np.asarray(actual), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def profile(df: pd.DataFrame, features: list[str], scores: np.ndarray) -> dict:
    """Reference bins and shares of every feature and of the scores."""
    cols = {f: df[f].to_numpy(dtype=float, na_value=np.nan) for f in features}
    cols["__score__"] = np.asarray(scores, dtype=float)
    out = {}
    for name, v in cols.items():
        edges = bin_edges(v)
        out[name] = {"edges": edges, "shares": shares(v, edges)}
    return out


def status(value: float) -> str:
    """stable / moderate / shift for a PSI value."""
    return "stable" if value < 0.1 else "moderate" if value < 0.25 else "shift"


def report(reference: dict, df: pd.DataFrame, scores: np.ndarray) -> dict:
    """PSI and status per feature and for the score distribution."""
    rows = {}
    for name, ref in reference.items():
        v = scores if name == "__score__" else df[name].to_numpy(dtype=float,
                                                               na_value=np.nan)
        value = psi(ref["shares"], shares(v, ref["edges"]))
        rows["score" if name == "__score__" else name] = {"psi": round(value, 5),
                                                          "status": status(value)}
    return rows
