"""Fraud detector: handbook protocol, baselines, tuned XGBoost, registry, gate, drift.

Serving entry points: `load(alias)` gives a `FraudPredictor` whose
`predict(features_df)` returns `(score, decision, top_features)` per row, where
`features_df` holds the `fraud_model_v1` features (order: `predictor.features`);
`models.fraud.serve.load_champion()` adds Feast online feature lookup.
"""

from __future__ import annotations


def load(alias: str = "champion", n_threads: int = 1):
    """Load `fraud-detector@<alias>` (or a version number) as a FraudPredictor."""
    from models.fraud.registry import load_predictor

    return load_predictor(alias, n_threads=n_threads)
