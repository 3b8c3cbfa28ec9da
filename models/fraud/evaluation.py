"""Multi-week evaluation: every model on consecutive test weeks, intervals by card.

One search per world, on the prequential folds that end before the first test week,
so no test week can steer it; then for each test week every model (the tuned XGBoost
with the searched parameters) is refitted on that week's training window and scored.
Intervals come from a card bootstrap (bootstrap.py); pooled figures are the mean over
test sets (weeks x worlds) of each resample, as the handbook averages test weeks.
A "win" of the tuned model over a baseline is claimed only where the paired
interval of the difference lies above zero. Variants of the tuned model (other feature
sets with the searched parameters) are models like the others; those that only add
inputs ("challengers") are compared as challenger minus tuned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.fraud.blind_spot import blind_spot, blind_spot_intervals
from models.fraud.bootstrap import METRICS, CardBootstrap, ScoredSet, interval
from models.fraud.estimators import BASELINES, TUNED, fit_xgb, matrix, score_booster
from models.fraud.protocol import (
    DAY, Columns, Windows, day_number, handbook_split, last_full_test_start,
    prequential_splits)
from models.fraud.selection import Selection, reselect, tune_xgb
from models.fraud.thresholds import choose_thresholds
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
                   blind_col: str | None = None,
                   variants: dict[str, list[str]] | None = None) -> list[WeekResult]:
    """Search once before the first test week, then score every model on each week.

    `variants` (name -> feature list) are more tuned XGBoosts: the searched parameters
    on other features, with their own rounds and review threshold from the same folds
    (`reselect`), so each differs from the tuned model only in what it sees.
    `blind_col` (optional) flags frauds in the label-delay blind spot; each week then
    keeps the flags and every tuned model's review threshold (chosen on validation)."""
    starts = test_week_starts(df, w, cols, weeks)
    folds = prequential_splits(df, starts[0], w, cols)
    sel = tune_xgb(df, folds, features, cols.label, cfg.n_trials, cfg.seed,
                   cfg.xgb_threads, cfg.timeout_s, cols.card)
    log.info("%s search: val AP %.4f, %s", world, sel.val_ap, sel.params)
    others = {}
    for name, feats in (variants or {}).items():
        others[name] = (feats, reselect(df, folds, feats, cols.label, sel, cfg.seed,
                                        cfg.xgb_threads, cols.card))
        log.info("%s %s: val AP %.4f", world, name, others[name][1].val_ap)
    out = []
    for start in starts:
        split = handbook_split(df, start, w, cols)
        comp = compare_with_selection(df, features, cols, split, sel, cfg)
        scores, review = dict(comp.all_scores), {TUNED: comp.thresholds.review}
        for name, (feats, vsel) in others.items():
            scores[name], review[name] = _variant(comp, feats, cols, vsel, cfg)
        test = comp.test_frame
        first = (start + (w.train_days + w.delay_days) * DAY).date()
        out.append(WeekResult(
            f"{world}test {first}", ScoredSet(
                y=test[cols.label].to_numpy(), card=np.zeros(len(test), np.int64),
                day=day_number(test[cols.time]), scores=scores),
            test[cols.card].to_numpy(), len(test), int(test[cols.label].sum()),
            test[blind_col].to_numpy(dtype=bool) if blind_col else None, review))
    return out


def _variant(comp: Comparison, features: list[str], cols: Columns, sel: Selection,
             cfg: TrainConfig) -> tuple[np.ndarray, float]:
    """Test scores and review threshold of a variant fitted on the week's window."""
    train = comp.train_frame
    booster = fit_xgb(matrix(train, features), train[cols.label].to_numpy(), sel.params,
                      features, cfg.seed, cfg.xgb_threads)
    review = choose_thresholds(sel.val_labels, sel.val_scores, cfg.budget).review
    return score_booster(booster, matrix(comp.test_frame, features)), review


def _blind_spots(results: list[WeekResult]) -> dict:
    """Point blind-spot recall of every model with a review threshold."""
    return {m: blind_spot(results, m) for m in results[0].review}


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


def _pairs(models: list[str], challengers: tuple[str, ...]) -> list[tuple[str, str]]:
    """(a, b) for each paired difference a - b: the tuned model against every other
    model, except challengers (tuned variants with more inputs), which are compared
    as challenger minus tuned."""
    return [(m, TUNED) if m in challengers else (TUNED, m)
            for m in models if m != TUNED]


def _block(point: np.ndarray, boots: np.ndarray, models: list[str],
           pairs: list[tuple[str, str]]) -> dict:
    """Per model and metric: value and interval; paired differences a - b.

    point: models x 3, boots: n_boot x models x 3."""
    out = {"models": {}, "paired": {}}
    for j, m in enumerate(models):
        out["models"][m] = {k: _stat(point[j, i], boots[:, j, i])
                            for i, k in enumerate(METRICS)}
    for a, b in pairs:
        ia, ib = models.index(a), models.index(b)
        diffs = {}
        for i, k in enumerate(METRICS):
            d = boots[:, ia, i] - boots[:, ib, i]
            stat = _stat(point[ia, i] - point[ib, i], d)
            ok = ~np.isnan(d)
            stat["p_not_better"] = _num(float(np.mean(d[ok] <= 0))) if ok.any() else None
            stat["win"] = bool(stat["lo"] is not None and stat["lo"] > 0)
            diffs[k] = stat
        out["paired"][f"{a}-{b}"] = diffs
    return out


def summarise(results: list[WeekResult], n_boot: int, seed: int = 0, k: int = 100,
              challengers: tuple[str, ...] = ()) -> dict:
    """Per test set and pooled: metrics with 95 % intervals and paired differences;
    pooled blind-spot recall with intervals from the same card resamples."""
    models = MODELS + [m for m in results[0].test.scores if m not in MODELS]
    pairs = _pairs(models, challengers)
    boot = CardBootstrap([r.test for r in results], models, k)
    point, boots = boot.point(), boot.run(n_boot, seed)
    per_set = [{"set": r.label, "rows": r.rows, "positives": r.positives,
                "blind_spot": _blind_spots([r]),
                **_block(point[i], boots[:, i], models, pairs)}
               for i, r in enumerate(results)]
    pooled = _block(_mean_over(point, 0), _mean_over(boots, 1), models, pairs)
    spots, spot_pairs = blind_spot_intervals(results, boot, n_boot, seed, models, pairs)
    pooled.update({"sets": len(results), "rows": sum(r.rows for r in results),
                   "positives": sum(r.positives for r in results),
                   "blind_spot": spots, "blind_spot_paired": spot_pairs})
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
