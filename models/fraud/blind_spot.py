"""Recall on the label-delay blind spot, with card-bootstrap intervals (pure numpy).

The blind spot is a set of frauds flagged per test row (frauds in a compromised
terminal's first week, before any of its labels can be visible). A model's recall is
taken at its review threshold, the operating point serving uses, separately on the
flagged frauds and on the others. Intervals reuse the card resamples of the metric
bootstrap (`CardBootstrap.draws`, same seed), so a recall difference between two models
is paired with each other and with their AP differences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from models.fraud.bootstrap import CardBootstrap, interval

if TYPE_CHECKING:
    from models.fraud.evaluation import WeekResult

AT = "the model's review threshold (validation, 1 % genuine flagged)"
# Per card: first-week frauds, those caught, other frauds, those caught.
_PARTS = 4


def _card_counts(results: list[WeekResult], model: str, n_cards: dict[int, int]
                 ) -> dict[int, np.ndarray]:
    """Per world: an n_cards x 4 array of the card's (blind, blind caught, other,
    other caught) fraud counts over the world's test sets."""
    out = {w: np.zeros((n, _PARTS)) for w, n in n_cards.items()}
    for r in results:
        fraud = r.test.y == 1
        caught = r.test.scores[model] >= r.review[model]
        for j, mask in enumerate((fraud & r.blind, fraud & r.blind & caught,
                                  fraud & ~r.blind, fraud & ~r.blind & caught)):
            out[r.test.world][:, j] += np.bincount(r.test.card[mask],
                                                   minlength=n_cards[r.test.world])
    return out


def _recalls(counts: dict[int, np.ndarray], mult: dict[int, np.ndarray]) -> np.ndarray:
    """(first-week recall, other recall) with cards weighted by their multiplicity."""
    tot = sum(mult[w] @ c for w, c in counts.items())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array([tot[1] / tot[0], tot[3] / tot[2]])


def _ready(results: list[WeekResult], model: str) -> bool:
    return all(r.blind is not None and model in r.review for r in results)


def blind_spot(results: list[WeekResult], model: str) -> dict | None:
    """Recall of a model at its review threshold on blind-spot frauds and on the other
    frauds, over the given test sets (None when a set has no flags or threshold)."""
    if not _ready(results, model):
        return None
    n_cards = {r.test.world: 0 for r in results}
    for r in results:
        n_cards[r.test.world] = max(n_cards[r.test.world], int(r.test.card.max()) + 1)
    counts = _card_counts(results, model, n_cards)
    tot = sum(c.sum(axis=0) for c in counts.values())
    rec = _recalls(counts, {w: np.ones(n) for w, n in n_cards.items()})
    return {"frauds": int(tot[0] + tot[2]), "first_week_frauds": int(tot[0]),
            "recall_first_week": _num(rec[0]), "recall_other": _num(rec[1]), "at": AT}


def recall_samples(results: list[WeekResult], boot: CardBootstrap, n_boot: int,
                   seed: int, models: list[str]) -> dict[str, np.ndarray]:
    """Per model with a review threshold: (first-week, other) recall under each of the
    bootstrap's resamples, an n_boot x 2 array; one draw serves every model."""
    models = [m for m in models if _ready(results, m)]
    counts = {m: _card_counts(results, m, boot.n_cards) for m in models}
    samples = {m: [] for m in models}
    if models:
        for mult in boot.draws(n_boot, seed):
            for m in models:
                samples[m].append(_recalls(counts[m], mult))
    return {m: np.array(s) for m, s in samples.items()}


def blind_spot_intervals(results: list[WeekResult], boot: CardBootstrap, n_boot: int,
                         seed: int, models: list[str], pairs: list[tuple[str, str]]
                         ) -> tuple[dict, dict]:
    """Pooled blind-spot recall per model with 95 % intervals from the metric
    bootstrap's resamples, and paired differences `a-b` for each pair (a, b)."""
    samples = recall_samples(results, boot, n_boot, seed, models)
    spots = {}
    for m, s in samples.items():
        spot = blind_spot(results, m)
        for j, key in enumerate(("recall_first_week", "recall_other")):
            spot[f"{key}_ci"] = _ci(s[:, j])
        spots[m] = spot
    paired = {}
    for a, b in pairs:
        if a in spots and b in spots:
            d = samples[a] - samples[b]
            paired[f"{a}-{b}"] = {
                key: {"value": _diff(spots[a][key], spots[b][key]), "ci": _ci(d[:, j])}
                for j, key in enumerate(("recall_first_week", "recall_other"))}
    return spots, paired


def _ci(samples: np.ndarray) -> list[float | None]:
    if np.isnan(samples).all():
        return [None, None]
    lo, hi = interval(samples)
    return [_num(lo), _num(hi)]


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else _num(a - b)


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)
