"""Shared, dependency-free core of SmartPay: settings, money, ids and domain errors.

Nothing here imports the other packages (features, models, serving, integrations,
pipelines); they all import from here.
"""
