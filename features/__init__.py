"""The Feast repository: entities, sources, views by entity, on-demand views, FeatureServices.

Definitions only. `features.store.open_store` builds a FeatureStore for the active
profile from `feature_store.<profile>.yaml`.
"""
