"""Runnable pipelines: each folder holds pure `nodes.py` and a `pipeline.py` that wires them."""
