"""Multi-week evaluation: every model on consecutive test weeks, intervals by card.

One search per world, on the prequential folds that end before the first test week,
so no test week can steer it; then for each test week every model (the tuned XGBoost
with the searched parameters) is refitted on that week's training window and scored.
Intervals come from a card bootstrap (bootstrap.py); pooled figures are the mean over
test sets (weeks x worlds) of each resample, as the handbook averages test weeks.
A "win" of the tuned model over a baseline is claimed only where the paired
interval of the difference lies above zero.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.fraud.bootstrap import METRICS, CardBootstrap, ScoredSet, interval
from models.fraud.estimators import BASELINES, TUNED
from models.fraud.protocol import (
    DAY, Columns, Windows, day_number, handbook_split, last_full_test_start,
    prequential_splits)
from models.fraud.selection import tune_xgb
from models.fraud.train import Comparison, TrainConfig, compare_with_selection

log = logging.getLogger(__name__)
MODELS = [*BASELINES, TUNED]


@dataclass
class WeekResult:
    """One test week of one world: its scores and what describes it."""

    label: str
    test: ScoredSet
    cards: np.ndarray
    rows: int
    positives: int
    blind: np.ndarray | None = None
    review: dict[str, float] = field(default_factory=dict)


def test_week_starts(df: pd.DataFrame, w: Windows, cols: Columns, weeks: int
                     ) -> list[pd.Timestamp]:
    """Training starts of `weeks` consecutive test weeks, the last ending with the data."""
    last = last_full_test_start(df, w, cols)
    return [last - (weeks - 1 - k) * w.test_days * DAY for k in range(weeks)]


def evaluate_weeks(df: pd.DataFrame, features: list[str], cols: Columns, w: Windows,
                   weeks: int, cfg: TrainConfig, world: str = "",
                   blind_col: str | None = None) -> list[WeekResult]:
    """Search once before the first test week, then score every model on each week.

    `blind_col` (optional) flags frauds in the label-delay blind spot; each week then
    keeps the flags and the tuned model's review threshold (chosen on validation)."""
    starts = test_week_starts(df, w, cols, weeks)
    folds = prequential_splits(df, starts[0], w, cols)
    sel = tune_xgb(df, folds, features, cols.label, cfg.n_trials, cfg.seed,
                   cfg.xgb_threads, cfg.timeout_s, cols.card)
    log.info("%s search: val AP %.4f, %s", world, sel.val_ap, sel.params)
    out = []
    for start in starts:
        split = handbook_split(df, start, w, cols)
        comp = compare_with_selection(df, features, cols, split, sel, cfg)
        test = comp.test_frame
        first = (start + (w.train_days + w.delay_days) * DAY).date()
        out.append(WeekResult(
            f"{world}test {first}", ScoredSet(
                y=test[cols.label].to_numpy(), card=np.zeros(len(test), np.int64),
                day=day_number(test[cols.time]), scores=comp.all_scores),
            test[cols.card].to_numpy(), len(test), int(test[cols.label].sum()),
            test[blind_col].to_numpy(dtype=bool) if blind_col else None,
            {TUNED: comp.thresholds.review}))
    return out


def blind_spot(results: list[WeekResult], model: str = TUNED) -> dict | None:
    """Recall of a model at its review threshold on blind-spot frauds and on the
    other frauds, over the given weeks (None when no week has flags)."""
    counts = np.zeros(4)
    for r in results:
        if r.blind is None or model not in r.review:
            return None
        fraud = r.test.y == 1
        caught = r.test.scores[model] >= r.review[model]
        counts += [np.sum(fraud & r.blind), np.sum(fraud & r.blind & caught),
                   np.sum(fraud & ~r.blind), np.sum(fraud & ~r.blind & caught)]
    blind, blind_caught, other, other_caught = counts
    return {"frauds": int(blind + other), "first_week_frauds": int(blind),
            "recall_first_week": _num(blind_caught / blind) if blind else None,
            "recall_other": _num(other_caught / other) if other else None,
            "at": "the model's review threshold (validation, 1 % genuine flagged)"}


def _blind_spots(results: list[WeekResult]) -> dict | None:
    spots = {m: blind_spot(results, m) for m in results[0].review}
    return spots.get(TUNED) if list(spots) == [TUNED] else spots


def number_cards(results: list[WeekResult], world: int) -> None:
    """Number the cards of one world's weeks jointly (one card, one number)."""
    codes, _ = pd.factorize(pd.Series(np.concatenate([r.cards for r in results])),
                            sort=True)
    lo = 0
    for r in results:
        r.test.card, r.test.world = codes[lo:lo + r.rows], world
        lo += r.rows


def _stat(value: float, samples: np.ndarray) -> dict:
    if np.isnan(samples).all():  # e.g. CP@100 of a table without a card column
        return {"value": _num(value), "lo": None, "hi": None}
    lo, hi = interval(samples)
    return {"value": _num(value), "lo": _num(lo), "hi": _num(hi)}


def _mean_over(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN; NaN where every value is NaN (without numpy's warning)."""
    ok = ~np.isnan(a)
    n = ok.sum(axis=axis)
    total = np.where(ok, a, 0.0).sum(axis=axis)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def with_early_model(base: list[WeekResult], early: list[WeekResult], name: str
                     ) -> list[WeekResult]:
    """Add the tuned model of a second run on the same weeks (more features) to `base`
    as model `name`, with its own review threshold."""
    for b, e in zip(base, early, strict=True):
        if not np.array_equal(b.test.y, e.test.y):
            raise ValueError(f"{b.label}: the two runs tested different rows")
        b.test.scores[name] = e.test.scores[TUNED]
        b.review[name] = e.review[TUNED]
    return base


def _block(point: np.ndarray, boots: np.ndarray, models: list[str]) -> dict:
    """Per model and metric: value and interval; paired tuned-minus-baseline diffs.

    point: models x 3, boots: n_boot x models x 3."""
    out = {"models": {}, "paired": {}}
    for j, m in enumerate(models):
        out["models"][m] = {k: _stat(point[j, i], boots[:, j, i])
                            for i, k in enumerate(METRICS)}
    t = models.index(TUNED)
    for j, b in enumerate(models):
        if b == TUNED:
            continue
        diffs = {}
        for i, k in enumerate(METRICS):
            d = boots[:, t, i] - boots[:, j, i]
            stat = _stat(point[t, i] - point[j, i], d)
            ok = ~np.isnan(d)
            stat["p_not_better"] = _num(float(np.mean(d[ok] <= 0))) if ok.any() else None
            stat["win"] = bool(stat["lo"] is not None and stat["lo"] > 0)
            diffs[k] = stat
        out["paired"][f"{TUNED}-{b}"] = diffs
    return out


def summarise(results: list[WeekResult], n_boot: int, seed: int = 0, k: int = 100
              ) -> dict:
    """Per test set and pooled: metrics with 95 % intervals and paired differences."""
    models = MODELS + [m for m in results[0].test.scores if m not in MODELS]
    boot = CardBootstrap([r.test for r in results], models, k)
    point, boots = boot.point(), boot.run(n_boot, seed)
    per_set = [{"set": r.label, "rows": r.rows, "positives": r.positives,
                "blind_spot": _blind_spots([r]), **_block(point[i], boots[:, i], models)}
               for i, r in enumerate(results)]
    pooled = _block(_mean_over(point, 0), _mean_over(boots, 1), models)
    pooled.update({"sets": len(results), "rows": sum(r.rows for r in results),
                   "positives": sum(r.positives for r in results),
                   "blind_spot": _blind_spots(results)})
    return {"n_boot": n_boot, "level": 0.95, "resampled_by": "card", "weeks": per_set,
            "pooled": pooled}


def table_report(comp: Comparison, cols: Columns, n_boot: int, k: int = 100) -> dict:
    """Test positives and every model's metrics with 95 % intervals on one test part,
    resampled by the id column when there is one, else by row."""
    test = comp.test_frame
    y = test[cols.label].to_numpy()
    if cols.card is not None:
        ids, day = test[cols.card].to_numpy(), day_number(test[cols.time])
    else:
        ids, day = np.arange(len(test)), None
    week = WeekResult("test", ScoredSet(y, np.zeros(len(y), np.int64), day,
                                        comp.all_scores), ids, len(test), int(y.sum()))
    number_cards([week], 0)
    pooled = summarise([week], n_boot, k=k)["pooled"]
    ap = pooled["models"][TUNED]["ap"]
    return {"test_rows": len(test), "test_positives": int(y.sum()),
            "resampled_by": cols.card or "row", "n_boot": n_boot,
            "ap_interval_width": _num(ap["hi"] - ap["lo"]) if ap["lo"] is not None
            else None, **{k_: pooled[k_] for k_ in ("models", "paired")}}
