"""The Feast repository: entities, sources, views by entity, on-demand views, FeatureServices.

Definitions only. `features.store.open_store` builds a FeatureStore for the active
profile from `envs/<profile>/feature_store.yaml`; the stock Feast CLI reads
`repo.py` (see `.feastignore`).
"""
