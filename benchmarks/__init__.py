"""One-command benchmark programs: `python -m benchmarks.<name>`."""
