"""Fraud model pipelines: train, promote and scheduled retrain."""
