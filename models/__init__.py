"""Training and prediction code, one folder per model. Knows nothing of serving or integrations."""
