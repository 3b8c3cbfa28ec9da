"""Batch feature pipeline: raw transactions -> Feast offline tables -> online store."""
